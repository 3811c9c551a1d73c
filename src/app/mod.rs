//! The pure core of the console: state, messages, effects, the key table and
//! `update`. Nothing here touches files, terminals, clocks or sockets.

pub mod actions;
pub mod decisions;
pub mod effect;
pub mod keymap;
pub mod merge;
pub mod msg;
pub mod rows;
pub mod state;
pub mod update;

pub use effect::{Effect, Event};
pub use msg::Msg;
pub use state::State;
pub use update::update;
