#![no_main]
//! Query form decoding: URL query, newline, form body (emulator/fuzz/src/lib.rs).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sqskit_emulator_fuzz::query_request(data));
