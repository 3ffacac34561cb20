#![no_main]
//! SigV4 Authorization header, X-Amz-* headers and presigned query parsing and verification.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sqskit_emulator_fuzz::sigv4_bytes(data));
