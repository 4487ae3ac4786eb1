#![no_main]
//! Kafka header lists with arbitrary keys (non-UTF-8 too), values and null values, written with
//! librdkafka itself, then read by the carrier (never rdkafka's panicking iteration) and
//! re-injected (the rebuild path).
use libfuzzer_sys::fuzz_target;
use rdkafka::message::OwnedHeaders;
use tracewire::Propagator;
use tracewire_kafka::{inject, KafkaHeaders};

fuzz_target!(|data: &[u8]| {
    let headers = OwnedHeaders::new();
    for line in data.split(|&b| b == b'\n') {
        let mut parts = line.splitn(2, |&b| b == 0);
        let key = parts.next().unwrap_or_default();
        let value = parts.next();
        let native = headers.as_borrowed() as *const _ as *mut rdkafka::bindings::rd_kafka_headers_t;
        // SAFETY: `native` is the header list `headers` owns; librdkafka copies key and value.
        unsafe {
            rdkafka::bindings::rd_kafka_header_add(
                native,
                key.as_ptr().cast(),
                key.len() as isize,
                value.map_or(std::ptr::null(), |v| v.as_ptr()).cast(),
                value.map_or(0, |v| v.len() as isize),
            );
        }
    }
    let p = Propagator::new();
    let out = p.extract(&KafkaHeaders::of_owned(Some(&headers)));
    let _ = inject(&p, &out.context, Some(headers));
});
