//! Work moved off the hot path: a bounded queue and one worker thread. When the queue is full
//! an item is dropped and counted — a caller never waits for a slow file or a dead exporter —
//! or, with [`FullPolicy::Block`], the caller waits for room. Drops are remembered as a window
//! (how many, first and last) that the worker hands to its sink as soon as it has room again.

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// What a queue does when it is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FullPolicy {
    /// Drop the item and count it (the default): a caller never waits.
    #[default]
    Drop,
    /// Wait for room (back-pressure): nothing is dropped while the worker lives.
    Block,
}

/// Items dropped since the worker last heard of drops: how many (in the sink's units), and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drops {
    pub(crate) count: u64,
    pub(crate) first: SystemTime,
    pub(crate) last: SystemTime,
}

impl Drops {
    fn add(this: &mut Option<Drops>, count: u64, at: SystemTime) {
        match this {
            Some(d) => {
                d.count += count;
                d.last = at;
            }
            None => {
                *this = Some(Drops {
                    count,
                    first: at,
                    last: at,
                })
            }
        }
    }
}

/// Units a sink has dealt with: written (or exported, or folded into another line), or failed.
/// A unit it holds back is counted when it is dealt with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Done {
    pub(crate) written: u64,
    pub(crate) failed: u64,
}

impl Done {
    /// `n` units, all written (`ok`) or all failed.
    pub(crate) fn all(n: u64, ok: bool) -> Self {
        if ok {
            Done {
                written: n,
                failed: 0,
            }
        } else {
            Done {
                written: 0,
                failed: n,
            }
        }
    }
}

impl std::ops::Add for Done {
    type Output = Done;
    fn add(self, other: Done) -> Done {
        Done {
            written: self.written + other.written,
            failed: self.failed + other.failed,
        }
    }
}

/// What the worker does with the items.
pub(crate) trait Sink: Send + 'static {
    type Item: Send + 'static;
    /// How many units (lines, spans) an item counts for in the stats.
    fn weight(_item: &Self::Item) -> u64 {
        1
    }
    /// Handles a batch (and empties it).
    fn write(&mut self, batch: &mut Vec<Self::Item>) -> Done;
    /// Items were dropped (queue full): told once there is room again, and at shutdown.
    fn dropped(&mut self, _drops: Drops) {}
    /// Called at every wake (after the queue is drained, and at each interval): writes what the
    /// sink held back and is now due, pushes out what is buffered.
    fn tick(&mut self) -> Done {
        Done::default()
    }
    /// Writes out everything, held units too (a flush, and before shutdown).
    fn flush(&mut self) -> Done {
        Done::default()
    }
    /// Last call before the worker exits.
    fn shutdown(&mut self) {}
}

/// Counters of one queue, readable at any time, in its units: spans for an exporter's queue,
/// lines for the span log (a span's end counts its event lines too).
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Units handed to the worker.
    pub accepted: AtomicU64,
    /// Units dropped because the queue was full (or the worker gone).
    pub dropped: AtomicU64,
    /// Units the worker wrote or exported.
    pub written: AtomicU64,
    /// Units the worker failed to write or export (exporter down, full disk, timeout…).
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
    drops: Arc<Mutex<Option<Drops>>>,
    full: FullPolicy,
    weight: fn(&T) -> u64,
    /// Wakes the worker once a batch is queued (one token at most).
    wake: Sender<()>,
    /// Queue length that is worth a wake-up.
    wake_at: usize,
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
        full: FullPolicy,
        sink: S,
    ) -> Self {
        let (items, item_rx) = bounded(capacity);
        let (control, control_rx) = unbounded();
        let (wake, wake_rx) = bounded(1);
        let stats = Arc::new(QueueStats::default());
        let drops = Arc::new(Mutex::new(None));
        let worker = Worker {
            items: item_rx,
            control: control_rx,
            wake: wake_rx,
            max_batch: batch,
            interval,
            stats: stats.clone(),
            drops: drops.clone(),
        };
        let worker = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || worker.run(sink))
            .ok();
        Offload {
            items,
            control,
            stats,
            drops,
            full,
            weight: S::weight,
            wake,
            wake_at: batch.min(capacity / 2).max(1),
            worker: Mutex::new(worker),
        }
    }

    /// Queues an item. When the queue is full: drops and counts it ([`FullPolicy::Drop`], never
    /// blocks) or waits for room ([`FullPolicy::Block`]). The worker is woken only once a batch
    /// is queued (else by its timer): a wake-up per item would cost the caller a system call.
    pub(crate) fn push(&self, item: T) {
        let weight = (self.weight)(&item);
        let refused = match self.full {
            FullPolicy::Drop => match self.items.try_send(item) {
                Ok(()) => None,
                Err(TrySendError::Full(item) | TrySendError::Disconnected(item)) => Some(item),
            },
            FullPolicy::Block => self.items.send(item).err().map(|e| e.0),
        };
        if self.items.len() >= self.wake_at {
            let _ = self.wake.try_send(());
        }
        match refused {
            None => self.stats.accepted.fetch_add(weight, Relaxed),
            Some(item) => {
                if let Ok(mut drops) = self.drops.lock() {
                    Drops::add(&mut drops, weight, SystemTime::now());
                }
                drop(item); // freed outside the lock
                self.stats.dropped.fetch_add(weight, Relaxed)
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

struct Worker<T> {
    items: Receiver<T>,
    control: Receiver<Control>,
    wake: Receiver<()>,
    max_batch: usize,
    interval: Duration,
    stats: Arc<QueueStats>,
    drops: Arc<Mutex<Option<Drops>>>,
}

impl<T: Send + 'static> Worker<T> {
    /// Sleeps until a batch is queued, a control message comes or `interval` passes, then
    /// writes what is queued in batches: a quiet service's lines are at most `interval` late.
    fn run<S: Sink<Item = T>>(self, mut sink: S) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            let control = select! {
                recv(self.control) -> message => Some(message),
                recv(self.wake) -> _ => None,
                default(self.interval) => None,
            };
            self.drain(&mut sink, &mut batch);
            self.report_drops(&mut sink);
            let done = sink.tick();
            self.count(done);
            match control {
                None => {}
                Some(Ok(Control::Flush(ack))) => {
                    self.count(sink.flush());
                    let _ = ack.send(());
                }
                Some(Ok(Control::Shutdown(ack))) => {
                    self.count(sink.flush());
                    sink.shutdown();
                    let _ = ack.send(());
                    return;
                }
                Some(Err(_)) => break, // the queue is gone
            }
        }
        self.drain(&mut sink, &mut batch);
        self.report_drops(&mut sink);
        self.count(sink.flush());
        sink.shutdown();
    }

    fn count(&self, done: Done) {
        self.stats.written.fetch_add(done.written, Relaxed);
        self.stats.failed.fetch_add(done.failed, Relaxed);
    }

    /// Writes what is queued now — not what keeps arriving: a blocked producer refills.
    fn drain<S: Sink<Item = T>>(&self, sink: &mut S, batch: &mut Vec<T>) {
        let mut left = self.items.len();
        while left > 0 {
            batch.extend(self.items.try_iter().take(left.min(self.max_batch)));
            if batch.is_empty() {
                return;
            }
            left = left.saturating_sub(batch.len());
            self.write(sink, batch);
        }
    }

    /// Writes a batch; a full batch just taken means the queue has room: drops are reported.
    fn write<S: Sink<Item = T>>(&self, sink: &mut S, batch: &mut Vec<T>) {
        if batch.is_empty() {
            return;
        }
        let done = sink.write(batch);
        batch.clear();
        self.count(done);
        self.report_drops(sink);
    }

    fn report_drops<S: Sink<Item = T>>(&self, sink: &mut S) {
        let drops = self.drops.lock().ok().and_then(|mut d| d.take());
        if let Some(drops) = drops {
            sink.dropped(drops);
        }
    }
}
