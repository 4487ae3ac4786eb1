//! Start records held on the caller's side until they matter. A span that ends soon — almost
//! every messaging span — needs no start line (its end line carries its start), so its start
//! record never crosses the queue: it is dropped where it was made, by `on_end`. The writer
//! sweeps out, as start lines, the records of spans still open after a while (what tells a
//! consumer that crashed mid-message from one never delivered), and all of them on a flush or
//! at shutdown.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Shards: two threads rarely want the same lock.
const SHARDS: usize = 16;

/// Records held per shard at most; past this a start goes straight to the queue, as if there
/// were no holding (spans that never end cannot grow the table without bound).
const MAX_PER_SHARD: usize = 4096;

/// Something held until its span ends or it is swept out.
pub(super) trait Held {
    /// When its span started.
    fn started(&self) -> SystemTime;
}

/// Span ids are random (the SDK makes them): their low bits are a hash already.
#[derive(Default)]
struct SpanIdHasher(u64);

impl Hasher for SpanIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id;
    }
}

type Shard<T> = Mutex<HashMap<u64, T, BuildHasherDefault<SpanIdHasher>>>;

/// The held start records of one span log, by span id.
pub(super) struct Pending<T> {
    shards: [Shard<T>; SHARDS],
}

impl<T: Held> Pending<T> {
    pub(super) fn new() -> Self {
        Pending {
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }

    fn shard(
        &self,
        id: u64,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, T, BuildHasherDefault<SpanIdHasher>>> {
        // The high bits pick the shard, the map hashes with the low ones.
        let shard = &self.shards[(id >> 60) as usize % SHARDS];
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `record`; hands it back when its shard is full.
    pub(super) fn hold(&self, id: u64, record: T) -> Option<T> {
        let mut shard = self.shard(id);
        if shard.len() >= MAX_PER_SHARD {
            return Some(record);
        }
        shard.insert(id, record);
        None
    }

    /// The record of span `id`, if still held (its span ended: the record is no longer needed).
    pub(super) fn release(&self, id: u64) -> Option<T> {
        self.shard(id).remove(&id)
    }

    /// Moves into `out` the records of spans started before `now − age` (`None`: every one).
    pub(super) fn sweep(&self, age: Option<Duration>, out: &mut Vec<T>) {
        let cutoff = age.and_then(|a| SystemTime::now().checked_sub(a));
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            match cutoff {
                None => out.extend(shard.drain().map(|(_, r)| r)),
                Some(cutoff) => {
                    let old: Vec<u64> = (shard.iter())
                        .filter(|(_, r)| r.started() < cutoff)
                        .map(|(&id, _)| id)
                        .collect();
                    out.extend(old.iter().filter_map(|id| shard.remove(id)));
                }
            }
        }
        out.sort_by_key(Held::started);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct At(SystemTime);

    impl Held for At {
        fn started(&self) -> SystemTime {
            self.0
        }
    }

    #[test]
    fn released_records_are_never_swept_and_old_ones_are_swept_in_start_order() {
        let pending = Pending::new();
        let now = SystemTime::now();
        let ago = |ms| At(now - Duration::from_millis(ms));
        assert!(pending.hold(1, ago(5_000)).is_none());
        assert!(pending.hold(2, ago(9_000)).is_none());
        assert!(pending.hold(3, ago(0)).is_none());
        assert!(pending.hold(4, ago(7_000)).is_none());
        assert!(pending.release(4).is_some(), "ended: released");
        let mut out = Vec::new();
        pending.sweep(Some(Duration::from_secs(1)), &mut out);
        let swept: Vec<SystemTime> = out.iter().map(|a| a.0).collect();
        assert_eq!(
            swept,
            [ago(9_000).0, ago(5_000).0],
            "old ones, oldest first"
        );
        assert!(pending.release(1).is_none(), "swept: gone");
        out.clear();
        pending.sweep(None, &mut out);
        assert_eq!(out.len(), 1, "a flush takes the young one too");
    }

    #[test]
    fn a_full_shard_hands_the_record_back() {
        let pending = Pending::new();
        for id in 0..MAX_PER_SHARD as u64 {
            assert!(pending.hold(id, At(SystemTime::now())).is_none());
        }
        assert!(pending.hold(7 << 32, At(SystemTime::now())).is_some());
        assert!(
            pending.hold(1 << 60, At(SystemTime::now())).is_none(),
            "another shard has room"
        );
    }
}
