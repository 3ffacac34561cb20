//! Settings of the process the emulator binary runs in. The library never calls them: a process that embeds the
//! emulator keeps its own.

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)` on Linux; nothing elsewhere).
///
/// With them, the binaries' allocator (mimalloc) faulted its memory in 2 MiB pages that the kernel zeroes whole
/// (about 16 KiB zeroed per message sent, where the queue keeps about 430 bytes): a third of the in-memory
/// server's CPU under `SendMessageBatch` load, and a p99 of 6.8 ms instead of 0.8 (BENCHMARKS.md, durability
/// round seven). The workspace builds mimalloc with `no_thp`, so it no longer asks for them; that is enough
/// where the host's mode is `madvise`, but where it is `always` the kernel hands them out unasked (measured in
/// mode `always`: 279,000 msg/s and p99 7.0 ms with `no_thp` alone, 338,000 and 0.70 ms with this). Call it
/// first thing in `main`; memory faulted before keeps its pages.
///
/// # Errors
/// The `prctl` error, on a kernel without the setting (before Linux 3.15).
pub fn disable_transparent_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::thread::disable_transparent_huge_pages(true)?;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn transparent_huge_pages_end_up_disabled() {
        disable_transparent_huge_pages().expect("prctl");

        assert!(rustix::thread::transparent_huge_pages_are_disabled().expect("prctl"));
    }
}
