#![no_main]
//! The config file parser, then credentials and declared queues as the server uses them.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sqskit_emulator_fuzz::config_bytes(data));
