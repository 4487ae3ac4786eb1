//! Start records waiting for their span's end: found by span id when the end comes (then no
//! start line is written), written in arrival order once due.

use super::Started;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::SystemTime;

/// Start records held at most: past it the oldest are due at once (~500 bytes each, ~16 MiB).
pub(super) const MAX_HELD: usize = 32_768;

/// Held start records by span id, and their ids in arrival order (an id whose record was folded
/// stays in the order until it reaches the front).
#[derive(Default)]
pub(super) struct Held {
    records: HashMap<u64, Started, BuildHasherDefault<SpanIdHasher>>,
    order: VecDeque<u64>,
}

impl Held {
    pub(super) fn insert(&mut self, id: u64, start: Started) {
        if self.records.insert(id, start).is_none() {
            self.order.push_back(id);
        }
    }

    /// Takes the record of span `id` out, if held: its end has come.
    pub(super) fn fold(&mut self, id: u64) -> bool {
        !self.records.is_empty() && self.records.remove(&id).is_some()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// The oldest record that is due: started before `cutoff`, past [`MAX_HELD`], or any (`all`).
    pub(super) fn pop_due(&mut self, cutoff: SystemTime, all: bool) -> Option<Started> {
        while let Some(&id) = self.order.front() {
            let Some(record) = self.records.get(&id) else {
                self.order.pop_front(); // folded
                continue;
            };
            let over = self.records.len() > MAX_HELD || self.order.len() > 4 * MAX_HELD;
            if !(all || over || record.start < cutoff) {
                return None;
            }
            self.order.pop_front();
            return self.records.remove(&id);
        }
        None
    }
}

/// Span ids are random already; a multiply spreads ids that are not (a test's 1, 2, 3…).
#[derive(Default)]
pub(super) struct SpanIdHasher(u64);

impl Hasher for SpanIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(26);
    }
}
