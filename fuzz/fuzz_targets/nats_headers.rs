#![no_main]
//! NATS multi-value headers from arbitrary lines (`name: value`, repeats kept), through the
//! fallible constructors, then extract and inject over them.
use async_nats::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::str::FromStr;
use tracewire::Propagator;

fuzz_target!(|data: &[u8]| {
    let mut map = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let Some((name, value)) = text.split_once(':') else { continue };
        if let (Ok(n), Ok(v)) = (HeaderName::from_str(name.trim()), HeaderValue::from_str(value.trim())) {
            map.append(n, v);
        }
    }
    let p = Propagator::new();
    let out = tracewire_nats::extract(&p, Some(&map));
    let merged = tracewire_nats::inject(&p, &out.context, Some(map));
    let _ = merged.len();
});
