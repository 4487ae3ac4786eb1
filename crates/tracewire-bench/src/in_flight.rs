//! Operations kept in flight (publisher confirms, publish acks): at most a window of them, the
//! oldest awaited first, each outcome checked.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::IntoFuture;

/// At most `limit` futures outstanding; `check` runs on each output.
pub struct InFlight<F: IntoFuture> {
    limit: usize,
    check: fn(F::Output),
    queue: VecDeque<F>,
}

impl<F: IntoFuture> InFlight<F> {
    /// An empty window of `limit` (1: each operation awaited before the next).
    pub fn new(limit: usize, check: fn(F::Output)) -> Self {
        InFlight {
            limit: limit.max(1),
            check,
            queue: VecDeque::with_capacity(limit),
        }
    }

    /// Adds `operation`, first awaiting the oldest when the window is full.
    pub async fn push(&mut self, operation: F) {
        if self.queue.len() == self.limit {
            if let Some(oldest) = self.queue.pop_front() {
                (self.check)(oldest.await);
            }
        }
        self.queue.push_back(operation);
    }

    /// Awaits every operation still outstanding.
    pub async fn finish(self) {
        for operation in self.queue {
            (self.check)(operation.await);
        }
    }
}

/// The check for a broker's acknowledgement: it must have succeeded.
pub fn acknowledged<T, E: Debug>(result: Result<T, E>) {
    result.expect("the broker acknowledged");
}
