//! Values made `'static` once and shared for the life of the process, in tables bounded in
//! count: what every message of an operation repeats (span names, destination names, metric
//! attribute sets) is then cloned without touching a reference count.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// A process-wide table of leaked values, at most `max_count` of them. Looked up when a value is
/// first needed (a destination's or an operation's first sight), not per message.
pub(crate) struct Leaked<K, V: ?Sized + 'static> {
    table: OnceLock<Mutex<HashMap<K, &'static V>>>,
    max_count: usize,
}

impl<K: Hash + Eq, V: ?Sized + 'static> Leaked<K, V> {
    pub(crate) const fn new(max_count: usize) -> Self {
        Leaked {
            table: OnceLock::new(),
            max_count,
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<K, &'static V>> {
        (self.table.get_or_init(Mutex::default).lock()).unwrap_or_else(PoisonError::into_inner)
    }

    /// How many values the table holds.
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether `key` has its value.
    #[cfg(test)]
    pub(crate) fn contains<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.table().contains_key(key)
    }

    /// The value of `key`; on its first sight, while the table has room, `make` gives the key
    /// to keep and the value (leaked); `None` past the bound.
    pub(crate) fn get<Q: Hash + Eq + ?Sized>(
        &self,
        key: &Q,
        make: impl FnOnce() -> (K, &'static V),
    ) -> Option<&'static V>
    where
        K: Borrow<Q>,
    {
        let mut table = self.table();
        if let Some(&value) = table.get(key) {
            return Some(value);
        }
        if table.len() >= self.max_count {
            return None;
        }
        let (key, value) = make();
        table.insert(key, value);
        Some(value)
    }
}
