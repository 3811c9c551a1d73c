#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| clawpair::fuzz_targets::setup_code(data));
