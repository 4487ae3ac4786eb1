//! Work moved off the hot path: a bounded queue and one worker thread. When the queue is full
//! an item is dropped and counted — a caller never waits for a slow file or a dead exporter.

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the worker does with the items.
pub(crate) trait Sink: Send + 'static {
    type Item: Send + 'static;
    /// Handles a batch (and empties it); returns how many items failed.
    fn write(&mut self, batch: &mut Vec<Self::Item>) -> usize;
    /// Pushes out anything buffered.
    fn flush(&mut self) {}
    /// Last call before the worker exits.
    fn shutdown(&mut self) {}
}

/// Counters of one queue, readable at any time.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Items handed to the worker.
    pub accepted: AtomicU64,
    /// Items dropped because the queue was full (or the worker gone).
    pub dropped: AtomicU64,
    /// Items the worker wrote or exported.
    pub written: AtomicU64,
    /// Items the worker failed to write or export (exporter down, timeout…).
    pub failed: AtomicU64,
}

impl QueueStats {
    /// (accepted, dropped, written, failed) now.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.accepted.load(Relaxed),
            self.dropped.load(Relaxed),
            self.written.load(Relaxed),
            self.failed.load(Relaxed),
        )
    }
}

enum Control {
    Flush(Sender<()>),
    Shutdown(Sender<()>),
}

/// A bounded queue in front of a worker thread.
pub(crate) struct Offload<T> {
    items: Sender<T>,
    control: Sender<Control>,
    stats: Arc<QueueStats>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl<T> std::fmt::Debug for Offload<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offload")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Offload<T> {
    /// Starts the worker: batches of up to `batch` items, written at least every `interval`.
    pub(crate) fn spawn<S: Sink<Item = T>>(
        name: &str,
        capacity: usize,
        batch: usize,
        interval: Duration,
        sink: S,
    ) -> Self {
        let (items, item_rx) = bounded(capacity);
        let (control, control_rx) = unbounded();
        let stats = Arc::new(QueueStats::default());
        let worker_stats = stats.clone();
        let worker = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(sink, item_rx, control_rx, batch, interval, &worker_stats))
            .ok();
        Offload {
            items,
            control,
            stats,
            worker: Mutex::new(worker),
        }
    }

    /// Queues an item, or drops and counts it when the queue is full. Never blocks.
    pub(crate) fn push(&self, item: T) {
        match self.items.try_send(item) {
            Ok(()) => self.stats.accepted.fetch_add(1, Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Relaxed)
            }
        };
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &Arc<QueueStats> {
        &self.stats
    }

    /// Writes out what is queued; waits at most `timeout` (a stuck exporter is not waited for).
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = bounded(1);
        self.control.send(Control::Flush(ack)).is_ok() && done.recv_timeout(timeout).is_ok()
    }

    /// Flushes and stops the worker, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        let (ack, done) = bounded(1);
        let finished =
            self.control.send(Control::Shutdown(ack)).is_ok() && done.recv_timeout(timeout).is_ok();
        if finished {
            if let Some(worker) = self.worker.lock().ok().and_then(|mut w| w.take()) {
                let _ = worker.join();
            }
        }
        finished
    }
}

fn run<S: Sink>(
    mut sink: S,
    items: Receiver<S::Item>,
    control: Receiver<Control>,
    max_batch: usize,
    interval: Duration,
    stats: &QueueStats,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let write = |sink: &mut S, batch: &mut Vec<S::Item>| {
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let failed = sink.write(batch) as u64;
            batch.clear();
            stats.written.fetch_add(n - failed.min(n), Relaxed);
            stats.failed.fetch_add(failed.min(n), Relaxed);
        }
    };
    loop {
        select! {
            recv(items) -> item => match item {
                Ok(item) => {
                    batch.push(item);
                    if batch.len() >= max_batch {
                        write(&mut sink, &mut batch);
                    }
                }
                Err(_) => break,
            },
            recv(control) -> message => {
                batch.extend(items.try_iter());
                write(&mut sink, &mut batch);
                sink.flush();
                match message {
                    Ok(Control::Flush(ack)) => { let _ = ack.send(()); }
                    Ok(Control::Shutdown(ack)) => {
                        sink.shutdown();
                        let _ = ack.send(());
                        return;
                    }
                    Err(_) => break,
                }
            },
            default(interval) => {
                write(&mut sink, &mut batch);
                sink.flush();
            }
        }
    }
    write(&mut sink, &mut batch);
    sink.shutdown();
}
