#![no_main]
//! tracestate over several header values (split at NUL).
use libfuzzer_sys::fuzz_target;
use tracewire::w3c::tracestate;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = tracestate::parse(data.split(|&b| b == 0)) {
        let mut out = Vec::new();
        tracestate::format(&parsed.state, &mut out);
        assert!(!out.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0), "nothing unsafe is emitted");
        assert!(tracestate::parse([out.as_slice()]).is_ok(), "what is emitted parses");
    }
});
