#![no_main]
//! The whole extract over a header list built from arbitrary bytes (lines of `name NUL value`),
//! then inject of what came out.
use libfuzzer_sys::fuzz_target;
use tracewire::carrier::{HeaderReader, MemoryHeaders};
use tracewire::{CorrelationContextExt, Propagator};

fuzz_target!(|data: &[u8]| {
    let mut headers = MemoryHeaders::new();
    for line in data.split(|&b| b == b'\n') {
        let mut parts = line.splitn(2, |&b| b == 0);
        let name = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        headers.append(name, parts.next().unwrap_or_default());
    }
    let p = Propagator::new();
    let out = p.extract(&headers);
    assert!(out.context.correlation_id().is_some());
    let mut again = MemoryHeaders::new();
    p.inject(&out.context, &mut again);
    for (_, value) in again.entries() {
        assert!(!value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0), "nothing unsafe is emitted");
    }
    let _ = again.last("traceparent");
});
