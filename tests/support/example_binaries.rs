//! The order examples as processes: where their binaries are (the profile directory of the test binary that
//! includes this file), built first if needed, and the command that runs one of them offline. Shared by
//! `tests/two_consumers.rs` and `tests/offload/examples.rs`.

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

/// A command that runs example `name` from `bin` (see [`example_binaries`]) with AWS settings that reach no real
/// account: test credentials, us-east-1, and no profile, config file, endpoint or instance metadata of the
/// machine's.
pub fn example_command(bin: &Path, name: &str) -> Command {
    let mut command = Command::new(bin.join(name));
    command
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}
