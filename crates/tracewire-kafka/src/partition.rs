//! `messaging.destination.partition.id`: a string by the conventions, made once per partition
//! number (topics rarely have more than a few hundred) rather than once per message.

use opentelemetry::{KeyValue, StringValue};
use std::sync::OnceLock;
use tracewire::messaging::attributes::DESTINATION_PARTITION_ID;

/// Partitions 0 to 1023 share their text, made `'static` once per process (a few KB): a
/// message's attribute then touches no reference count (two atomic operations a message with
/// shared `Arc`s). Others (and the unassigned -1) format it each time.
const SHARED: usize = 1024;

/// The partition attribute of `partition`.
pub(crate) fn partition_attribute(partition: i32) -> KeyValue {
    static IDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        (0..SHARED)
            .map(|p| &*Box::leak(p.to_string().into_boxed_str()))
            .collect()
    });
    let value = match usize::try_from(partition).ok().and_then(|p| ids.get(p)) {
        Some(&shared) => StringValue::from(shared),
        None => partition.to_string().into(),
    };
    KeyValue::new(DESTINATION_PARTITION_ID, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_reads_as_its_number() {
        for p in [0, 7, 1023, 1024, -1, i32::MAX] {
            assert_eq!(partition_attribute(p).value.as_str(), p.to_string());
        }
    }
}
