#![no_main]
//! JSON request decoding: first byte picks the action, the rest is the body (emulator/fuzz/src/lib.rs).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sqskit_emulator_fuzz::json_request(data));
