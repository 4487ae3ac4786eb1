//! Reading a message's headers allocates nothing for up to eight headers (tracewire's four and a
//! few of the user's), counted by `tracewire::count_allocations!` and held here.

use rdkafka::message::{Header, OwnedHeaders};
use tracewire::carrier::HeaderReader;
use tracewire_kafka::KafkaHeaders;

tracewire::count_allocations!();

fn headers(n: usize) -> OwnedHeaders {
    (0..n).fold(OwnedHeaders::new(), |h, i| {
        let key = if i == 0 {
            "traceparent".to_owned()
        } else {
            format!("x-{i}")
        };
        h.insert(Header {
            key: &key,
            value: Some(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".as_slice()),
        })
    })
}

/// Allocations made while reading `headers` and looking one up.
fn reading(headers: &OwnedHeaders) -> usize {
    allocations(|| {
        let carrier = KafkaHeaders::of_owned(Some(headers));
        assert!(carrier.last("traceparent").is_some());
    })
}

#[test]
fn up_to_eight_headers_are_read_without_allocating() {
    assert_eq!(reading(&headers(4)), 0);
    assert_eq!(reading(&headers(8)), 0);
    assert_eq!(reading(&headers(12)), 1, "past eight: one Vec for the rest");
}
