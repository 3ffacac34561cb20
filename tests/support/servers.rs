//! Real servers for the idempotency-store tests, started on a free 127.0.0.1 port and killed when their guard
//! drops: Debian's `redis-server`, and `moto_server` (the DynamoDB-compatible server of the `moto[server]` PyPI
//! package) from the venv `tests/servers/setup.sh` installs.
//!
//! Where a server cannot be found, [`RedisServer::start`] and [`MotoServer::start`] return `None` after printing
//! why (the test then skips itself), unless the run must be complete: under CI (`CI=true`) or with
//! `SQSKIT_REQUIRE_STORE_TESTS=1` (which `.ci/run` exports), a missing server fails the test.
//! `SQSKIT_REDIS_SERVER` and `SQSKIT_MOTO_SERVER` name other binaries.
//!
//! moto runs through `tests/servers/moto_serialized.py`, one request at a time: `moto_server` itself serves
//! requests on concurrent threads, and moto's DynamoDB checks a condition and writes in two unlocked steps, so
//! racing conditional writes could both succeed where DynamoDB lets exactly one win (the store tests race 32
//! callers for one key). A `moto_server` named by `SQSKIT_MOTO_SERVER` runs as it is.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether missing servers fail the tests instead of skipping them.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
        || std::env::var("SQSKIT_REQUIRE_STORE_TESTS").is_ok_and(|value| value == "1")
}

/// `None` with a note, or a panic when the servers are required.
fn missing<T>(what: &str, how: &str) -> Option<T> {
    assert!(
        !required(),
        "{what} is required here (CI=true or SQSKIT_REQUIRE_STORE_TESTS=1) but was not found: {how} (.ci/run does)"
    );
    eprintln!("{what} not found: skipping this test ({how}; .ci/run installs it and requires the test)");
    None
}

/// A free TCP port on 127.0.0.1 (the listener is closed at once; the server binds it right after).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|candidate| candidate.is_file()))
}

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `port` accepts TCP connections, or panics after `limit` (or if the process exits).
fn wait_for_port(child: &mut Child, what: &str, port: u16, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during start-up with {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(started.elapsed() < limit, "{what} did not listen on 127.0.0.1:{port} within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A `redis-server` on a free port, without persistence.
#[derive(Debug)]
pub struct RedisServer {
    guard: Guard,
    binary: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RedisServer {
    /// Starts one, or `None` (see the module documentation).
    pub fn start() -> Option<Self> {
        let binary = match std::env::var_os("SQSKIT_REDIS_SERVER") {
            Some(path) => PathBuf::from(path),
            None => match on_path("redis-server") {
                Some(path) => path,
                None => return missing("redis-server", "install it with `apt-get install -y redis-server`"),
            },
        };
        let port = free_port();
        Some(Self { guard: Self::spawn(&binary, port), binary, port })
    }

    fn spawn(binary: &Path, port: u16) -> Guard {
        let mut child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        wait_for_port(&mut child, "redis-server", port, Duration::from_secs(10));
        Guard(child)
    }

    /// Its URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.guard.0.kill();
        let _ = self.guard.0.wait();
    }

    /// Starts a fresh server on the same port (after [`kill`](Self::kill)); its data is gone.
    pub fn restart(&mut self) {
        self.kill();
        self.guard = Self::spawn(&self.binary, self.port);
    }
}

/// A `moto_server` on a free port (DynamoDB and every other service moto mocks, in memory).
#[derive(Debug)]
pub struct MotoServer {
    _guard: Guard,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl MotoServer {
    /// Starts one, or `None` (see the module documentation).
    pub fn start() -> Option<Self> {
        let port = free_port();
        let mut command = match std::env::var_os("SQSKIT_MOTO_SERVER") {
            Some(path) => {
                let mut command = Command::new(path);
                command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                command
            }
            None => {
                let servers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers");
                let python = servers.join(".venv-moto/bin/python");
                if !python.is_file() {
                    return missing("moto_server", "install it with `bash tests/servers/setup.sh`");
                }
                let mut command = Command::new(python);
                command.arg(servers.join("moto_serialized.py")).args(["127.0.0.1", &port.to_string()]);
                command
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start moto ({command:?}): {error}"));
        wait_for_port(&mut child, "moto_server", port, Duration::from_secs(60));
        Some(Self { _guard: Guard(child), port })
    }

    /// Its endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
