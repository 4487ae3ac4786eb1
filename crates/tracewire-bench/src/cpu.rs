//! The process's CPU time, every thread counted (the runtime's, the clients' own threads, the
//! exporters' and the span-log writer's; not the brokers', which are other processes): what a
//! message costs the machine, beside its wall-clock time. On a row whose time is the broker's,
//! the wall-clock difference between two modes drowns in the broker's noise; the CPU each mode
//! spends does not.

use std::time::Duration;

/// CPU time this process has used so far (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn used() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable `timespec` for the call's duration, and the clock id is
    // one every Linux kernel knows; nothing else is touched.
    #[allow(unsafe_code)]
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(status, 0, "the process CPU clock");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
