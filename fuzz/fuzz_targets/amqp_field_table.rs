#![no_main]
//! AMQP headers as the wire delivers them: arbitrary bytes decoded by amq-protocol's own field
//! table parser (every value type, any nesting), then read by the carrier and the propagator.
use libfuzzer_sys::fuzz_target;
use lapin::BasicProperties;
use tracewire::carrier::HeaderReader;
use tracewire::Propagator;
use tracewire_amqp::AmqpHeaders;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, table)) = amq_protocol_types::parsing::parse_field_table(data) {
        let props = BasicProperties::default().with_headers(table);
        let headers = AmqpHeaders::new(&props);
        for name in ["traceparent", "tracestate", "baggage", "correlation_id"] {
            let _ = headers.values(name).count();
        }
        let _ = Propagator::new().extract(&headers);
    }
});
