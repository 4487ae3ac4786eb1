#![no_main]
//! correlation ids: whatever is accepted is visible ASCII, at most 128 bytes.
use libfuzzer_sys::fuzz_target;
use tracewire::CorrelationId;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = CorrelationId::parse(data) {
        assert!(id.as_bytes().len() <= CorrelationId::MAX_LEN);
        assert!(id.as_bytes().iter().all(u8::is_ascii_graphic));
    }
});
