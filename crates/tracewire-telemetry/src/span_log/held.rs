//! Start records waiting for their span's end: kept in arrival order (a 352-byte record is
//! written once, where it stays), found by span id through a small index when the end comes
//! (then no start line is written), written from the front once due.

use super::{span_id, Started};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::SystemTime;

/// Open spans' start records held at most: past it the oldest are due at once.
pub(super) const MAX_HELD: usize = 16_384;

/// Slots kept at most, folded ones included (a folded slot is freed when it reaches the front):
/// 352 bytes each, so ~11 MiB at most.
const MAX_SLOTS: usize = 2 * MAX_HELD;

/// Held start records in arrival order (`None`: folded into its end line), and where each open
/// span's record is.
#[derive(Default)]
pub(super) struct Held {
    slots: VecDeque<Option<Started>>,
    /// Arrival number of `slots[0]`.
    first: u64,
    /// Span id → arrival number, for the records not yet folded or written.
    index: HashMap<u64, u64, BuildHasherDefault<SpanIdHasher>>,
}

impl Held {
    pub(super) fn insert(&mut self, id: u64, start: Started) {
        let seq = self.first + self.slots.len() as u64;
        self.slots.push_back(Some(start));
        self.index.insert(id, seq);
    }

    /// Drops the record of span `id`, if held: its end has come.
    pub(super) fn fold(&mut self, id: u64) -> bool {
        if self.index.is_empty() {
            return false;
        }
        let Some(seq) = self.index.remove(&id) else {
            return false;
        };
        let at = seq.checked_sub(self.first).map(|at| at as usize);
        if let Some(slot) = at.and_then(|at| self.slots.get_mut(at)) {
            *slot = None;
        }
        true
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The oldest record that is due: started before `cutoff`, past the bounds, or any (`all`).
    pub(super) fn pop_due(&mut self, cutoff: SystemTime, all: bool) -> Option<Started> {
        loop {
            let over = self.index.len() > MAX_HELD || self.slots.len() > MAX_SLOTS;
            match self.slots.front()? {
                None => {}
                Some(s) if all || over || s.start < cutoff => {}
                Some(_) => return None,
            }
            let seq = self.first;
            self.first += 1;
            let Some(start) = self.slots.pop_front().flatten() else {
                continue; // folded
            };
            let id = span_id(start.span_id);
            // A span id seen twice: the index points at the later record.
            if self.index.get(&id) == Some(&seq) {
                self.index.remove(&id);
            }
            return Some(start);
        }
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
