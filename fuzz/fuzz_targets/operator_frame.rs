#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawpair::fuzz_targets::operator_frame(data));
