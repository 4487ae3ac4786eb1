#![no_main]
//! baggage over many header values (split at NUL).
use libfuzzer_sys::fuzz_target;
use tracewire::w3c::baggage;

fuzz_target!(|data: &[u8]| {
    let (bag, _) = baggage::parse(data.split(|&b| b == 0));
    assert!(bag.len() <= baggage::MAX_MEMBERS);
    let mut out = Vec::new();
    baggage::format(&bag, &mut out);
    assert!(out.len() <= baggage::MAX_BYTES);
    assert!(out.iter().all(|b| b.is_ascii_graphic() || *b == b' '), "encoded output is printable");
});
