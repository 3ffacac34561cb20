#![no_main]
//! XML response encoding: a message body and String attributes round-trip over Query through roxmltree.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sqskit_emulator_fuzz::xml_round_trip_bytes(data));
