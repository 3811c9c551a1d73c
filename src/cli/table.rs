//! Box-drawn tables in the layout OpenClaw's CLI prints (being written by the lead).
