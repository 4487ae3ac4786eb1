//! Operations kept in flight (Kafka sends, publisher confirms, publish acks): at most a window of
//! them, the oldest awaited first, each outcome checked.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::IntoFuture;

/// Starts `n` operations with `start`, keeping at most `limit` outstanding (1: each awaited
/// before the next), and runs `check` on each outcome; returns when all are in.
pub async fn in_flight<F: IntoFuture>(
    n: u64,
    limit: usize,
    check: fn(F::Output),
    mut start: impl AsyncFnMut() -> F,
) {
    let limit = limit.max(1);
    let mut queue = VecDeque::with_capacity(limit);
    for _ in 0..n {
        if queue.len() == limit {
            if let Some(oldest) = queue.pop_front() {
                check(oldest.await);
            }
        }
        queue.push_back(start().await);
    }
    for operation in queue {
        check(operation.await);
    }
}

/// The check for a broker's acknowledgement: it must have succeeded.
pub fn acknowledged<T, E: Debug>(result: Result<T, E>) {
    result.expect("the broker acknowledged");
}
