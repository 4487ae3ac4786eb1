#![no_main]
//! traceparent from arbitrary bytes: one value, and several (split at NUL).
use libfuzzer_sys::fuzz_target;
use tracewire::w3c::traceparent::Traceparent;

fuzz_target!(|data: &[u8]| {
    if let Ok(tp) = Traceparent::parse(data) {
        // What parses re-emits as valid version 00 and parses back the same.
        assert_eq!(Traceparent::parse(&tp.format()), Ok(tp));
    }
    let _ = Traceparent::parse_all(data.split(|&b| b == 0));
});
