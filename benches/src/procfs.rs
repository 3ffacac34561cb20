//! Resident memory, open file descriptors and CPU time of another process, read from Linux's `/proc` (soak runs
//! sample the server this way). Reads only; never signals or otherwise touches the process.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

/// One reading of a process's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcessSample {
    /// Resident set size (`VmRSS`) in KiB.
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`) in KiB.
    pub hwm_kib: u64,
    /// Entries of `/proc/<pid>/fd`: open files, sockets, pipes, epoll and event descriptors.
    pub fds: u64,
    /// CPU time used so far by the process's live threads, in nanoseconds; `None` without schedstat.
    pub cpu_nanos: Option<u64>,
}

impl ProcessSample {
    /// The cores the process used on average between `earlier` and this sample, `elapsed` apart (1.0 is one
    /// core fully busy).
    pub fn cpu_since(&self, earlier: &Self, elapsed: Duration) -> Option<f64> {
        let used = self.cpu_nanos?.checked_sub(earlier.cpu_nanos?)?;
        let secs = elapsed.as_secs_f64();
        (secs > 0.0).then(|| (used as f64 / 1e9 / secs * 100.0).round() / 100.0)
    }
}

/// Reads [`ProcessSample`]s of one process by pid.
#[derive(Debug, Clone)]
pub struct ProcessProbe {
    pid: u32,
    dir: PathBuf,
}

impl ProcessProbe {
    /// A probe of process `pid`, checked by taking one reading.
    ///
    /// # Errors
    ///
    /// The process does not exist, `/proc` is missing (not Linux), or its `status` or `fd` entries are not
    /// readable (another user's process).
    pub fn new(pid: u32) -> io::Result<Self> {
        let probe = Self { pid, dir: PathBuf::from(format!("/proc/{pid}")) };
        probe.sample()?;
        Ok(probe)
    }

    /// The pid this probe reads.
    pub const fn pid(&self) -> u32 {
        self.pid
    }

    /// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`, counts `/proc/<pid>/fd`, and adds up the run time
    /// of `/proc/<pid>/task/*/schedstat`.
    ///
    /// # Errors
    ///
    /// The process has exited, or a field is missing from its `status`.
    pub fn sample(&self) -> io::Result<ProcessSample> {
        let status = std::fs::read_to_string(self.dir.join("status"))?;
        let field = |name: &str| {
            status_kib(&status, name).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("no {name} in /proc/{}/status", self.pid))
            })
        };
        let (rss_kib, hwm_kib) = (field("VmRSS")?, field("VmHWM")?);
        let fds = std::fs::read_dir(self.dir.join("fd"))?.count() as u64;
        Ok(ProcessSample { rss_kib, hwm_kib, fds, cpu_nanos: cpu_nanos(&self.dir) })
    }
}

/// CPU time of the live threads of the process at `dir`: the first field of each thread's schedstat is the time
/// it has run, in nanoseconds. A thread that exits between listing and reading is skipped, and the time of
/// threads that already exited is missing; a server's worker threads live as long as it does.
fn cpu_nanos(dir: &Path) -> Option<u64> {
    let tasks = std::fs::read_dir(dir.join("task")).ok()?;
    let nanos = tasks
        .filter_map(|task| {
            let path = task.ok()?.path().join("schedstat");
            std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    Some(nanos)
}

/// The value of a `Name:   1234 kB` line of a `/proc/<pid>/status` text, in KiB.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// KiB as MiB, rounded to 0.1 MiB.
pub fn kib_to_mib(kib: u64) -> f64 {
    (kib as f64 / 102.4).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields_of_a_status_text() {
        let status = "Name:\tsqskit\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";

        assert_eq!(status_kib(status, "VmRSS"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap"), None);
        assert!((kib_to_mib(10240) - 10.0).abs() < f64::EPSILON);
    }

    #[test]
    fn samples_this_process() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }

        let sample = ProcessProbe::new(std::process::id()).and_then(|probe| probe.sample()).expect("readable");

        assert!(sample.rss_kib > 0 && sample.hwm_kib >= sample.rss_kib, "{sample:?}");
        assert!(sample.fds >= 3, "stdin, stdout and stderr at least: {sample:?}");
        assert!(sample.cpu_nanos.is_some_and(|nanos| nanos > 0), "{sample:?}");
    }

    #[test]
    fn cpu_use_is_the_time_difference_over_the_interval() {
        let at = |cpu_nanos| ProcessSample { rss_kib: 1, hwm_kib: 1, fds: 3, cpu_nanos };
        let second = Duration::from_secs(1);

        assert_eq!(at(Some(1_500_000_000)).cpu_since(&at(Some(1_000_000_000)), second), Some(0.5));
        assert_eq!(at(Some(1_000_000_000)).cpu_since(&at(None), second), None);
        assert_eq!(at(Some(1)).cpu_since(&at(Some(1)), Duration::ZERO), None);
    }
}
