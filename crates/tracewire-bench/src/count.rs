//! `--count MODE`: one mode of a row alone, for an instruction-exact profile of the row under
//! callgrind — what the clock's noise and the other modes cannot blur:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*Counted*' \
//!     target/release/tracewire-bench kafka-consume --count unsampled --rounds 1 --scale 0.1
//! callgrind_annotate callgrind.out.*
//! ```
//!
//! Callgrind counts only while [`Counted::poll`] is on the stack: the row's own polls (the
//! client's calls, tracewire's or the peer's work per message), not the runtime's reactor or
//! the client's background tasks and threads, which every mode shares.

use crate::harness::{Mode, Plan, Row};
use opentelemetry::Context;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as Waker, Poll};
use tracewire::task::TracedExt;

/// A future callgrind toggles on by name, and `perf-owners.py` takes as its root: its `poll` is
/// never inlined into the runtime's, and keeps a frame of its own on the stack — the row is
/// called through a `dyn` (inlined, its frames at some addresses lost their caller's name in
/// `perf`'s output), and not as a tail call (which would leave no frame).
pub struct Counted<'a, T>(Pin<Box<dyn Future<Output = T> + 'a>>);

impl<T> Future for Counted<'_, T> {
    type Output = T;

    #[inline(never)]
    fn poll(mut self: Pin<&mut Self>, waker: &mut Waker<'_>) -> Poll<T> {
        let polled = self.0.as_mut().poll(waker);
        std::hint::black_box(&polled); // not a tail call
        polled
    }
}

/// Runs `mode` of `row` alone: one warm-up chunk, then the plan's other messages inside
/// [`Counted`]. Returns how many messages were counted.
pub async fn count<R: Row>(row: &mut R, plan: Plan, cx: &Context, mode: Mode) -> u64 {
    row.run(mode, plan.chunk).traced_in(cx.clone()).await; // warm-up: connections, caches…
    let n = plan.chunk * (plan.rounds * plan.chunks) as u32;
    // The context outside: its attach on each poll is the bench's, not the row's.
    Counted(Box::pin(row.run(mode, n)))
        .traced_in(cx.clone())
        .await;
    u64::from(n)
}
