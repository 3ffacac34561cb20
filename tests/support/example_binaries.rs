//! The order examples as processes: where their binaries are (the profile directory of the test binary that
//! includes this file), built first if needed. Shared by `tests/two_consumers.rs` and `tests/offload/examples.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `order_producer` and `order_consumer` in this test binary's target directory and profile, and returns
/// the directory holding them.
pub fn example_binaries() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..").to_path_buf();
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    build.args(["build", "-q", "-p", "sqskit", "--example", "order_consumer", "--example", "order_producer"]);
    build.arg("--target-dir").arg(&target_dir);
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("run cargo build");
    assert!(status.success(), "cargo build of the order examples failed");
    profile_dir.join("examples")
}
