//! glibc's malloc, tuned for a long-running poller.
//!
//! The pollers allocate and free all the time (requests, answers, re-rendered store
//! buckets) on every runtime thread, and glibc keeps what they free: in an arena per
//! thread, and in pages pinned by the long-lived allocations between them. Two arenas
//! are plenty for a runtime of a few threads, and `malloc_trim` every few seconds hands
//! whole free pages back. At 10,000 apps each took about 4 MB off the resident memory
//! (BENCHMARKS.md, "Where the memory goes"); mimalloc and jemalloc did no better.
//! Elsewhere (another libc) this does nothing.

use std::time::Duration;

/// How often the arenas are trimmed: a trim takes a few milliseconds.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Limits the number of arenas. Call before any thread starts.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes plain integers; no allocation is in flight on another thread yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Starts a thread that trims the arenas every [`TRIM_EVERY`].
pub fn start_trimming() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let spawned = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| {
            loop {
                std::thread::sleep(TRIM_EVERY);
                // SAFETY: malloc_trim takes no pointers and locks each arena itself.
                unsafe {
                    libc::malloc_trim(0);
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the malloc trimmer; memory is still freed, only kept longer");
        }
    }
}
