//! Each thread's last few resolutions of a destination: a message to a destination its thread
//! resolved lately takes no lock and hashes nothing. The destinations' map sits behind a
//! `RwLock`, whose read lock and unlock are two locked instructions on every message's path —
//! and a wrapper like rdkafka's `recv(&self)` has no `&mut` place of its own to keep a last
//! answer in.

use super::destinations::Resolved;
use super::OperationType;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Resolutions a thread keeps: a consumer and a producer on one thread, each with a settle
/// operation, fit.
const SLOTS: usize = 4;

/// One resolution: `operation` of `kind` on the destination `resolved` names, for the
/// destinations map numbered `owner`.
struct Slot {
    owner: u64,
    operation: &'static str,
    kind: OperationType,
    resolved: Resolved,
}

struct Recent {
    slots: [Option<Slot>; SLOTS],
    /// The slot the next resolution replaces (oldest first).
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { slots: [const { None }; SLOTS], next: 0 })
    };
}

/// A number for a destinations map, never reused in the process: a slot of a map since dropped
/// can never answer for a new one at the same address.
pub(crate) fn owner_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Relaxed)
}

/// This thread's resolution of `operation` (of `kind`) on `destination` for map `owner`, if it
/// has one.
#[inline]
pub(crate) fn get(
    owner: u64,
    (operation, kind): (&'static str, OperationType),
    destination: &str,
) -> Option<Resolved> {
    // `try_with`: a thread's other destructors may still send once this one is gone.
    let found = RECENT.try_with(|recent| {
        let recent = recent.try_borrow().ok()?;
        let slot = recent.slots.iter().flatten().find(|s| {
            s.owner == owner
                && s.kind == kind
                && s.operation == operation
                && s.resolved.destination.name.as_str() == destination
        })?;
        Some(slot.resolved.clone())
    });
    found.ok().flatten()
}

/// Keeps `resolved` as this thread's answer for `operation` (of `kind`) on its destination for
/// map `owner`, in place of the oldest.
pub(crate) fn put(
    owner: u64,
    (operation, kind): (&'static str, OperationType),
    resolved: &Resolved,
) {
    let _ = RECENT.try_with(|recent| {
        let Ok(mut recent) = recent.try_borrow_mut() else {
            return;
        };
        let at = recent.next;
        recent.next = (at + 1) % SLOTS;
        recent.slots[at] = Some(Slot {
            owner,
            operation,
            kind,
            resolved: resolved.clone(),
        });
    });
}
