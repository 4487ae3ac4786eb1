//! One span, from either input format.

use serde::Serialize;

/// The span kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// INTERNAL.
    #[default]
    Internal,
    /// SERVER.
    Server,
    /// CLIENT.
    Client,
    /// PRODUCER.
    Producer,
    /// CONSUMER.
    Consumer,
}

impl Kind {
    /// From the span log's lower-case name.
    pub fn parse(s: &str) -> Kind {
        match s {
            "server" => Kind::Server,
            "client" => Kind::Client,
            "producer" => Kind::Producer,
            "consumer" => Kind::Consumer,
            _ => Kind::Internal,
        }
    }
}

/// What a line says about a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The span started.
    Start,
    /// The span ended (the line is complete).
    End,
}

/// A `span_log_gap` line: span-log lines a service lost (its queue was full, or writes failed),
/// how many and when. Anything that service should have logged in that window may be missing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGap {
    /// The service whose lines were lost.
    pub service: String,
    /// `queue_full` or `write_failed`.
    pub reason: String,
    /// Lines lost.
    pub lines: u64,
    /// First loss (µs).
    pub first_us: i64,
    /// Last loss (µs).
    pub last_us: i64,
}

impl LogGap {
    /// `fulfillment lost 120 span-log line(s) (queue_full) 2026-11-22T04:20:00.1Z – …`.
    pub fn describe(&self) -> String {
        let at = |us: i64| {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(us.max(0) as u64);
            humantime::format_rfc3339_micros(t).to_string()
        };
        format!(
            "{} lost {} span-log line(s) ({}) {} – {}",
            self.service,
            self.lines,
            self.reason,
            at(self.first_us),
            at(self.last_us)
        )
    }

    /// Could this gap hold a line of something that happened at or after `at_us`? (One second
    /// of slack for clocks that differ between hosts.)
    pub fn may_hide(&self, at_us: i64) -> bool {
        self.last_us + 1_000_000 >= at_us
    }
}

/// A span event (`span_event` line), kept for the traces read in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanEvent {
    /// The span it belongs to.
    #[serde(skip)]
    pub span_id: u64,
    /// Event name (`exception`, …).
    pub name: String,
    /// When (µs).
    pub at_us: i64,
    /// Its attributes, as text.
    pub attributes: Vec<(String, String)>,
}

/// A span as the analysis sees it. Times are microseconds since the Unix epoch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Span {
    /// Trace id, 32 hex digits.
    pub trace_id: String,
    /// Span id.
    pub span_id: u64,
    /// Parent span id.
    pub parent: Option<u64>,
    /// `service.name`.
    pub service: String,
    /// Span name.
    pub name: String,
    /// Span kind.
    pub kind: Kind,
    /// Start time (µs).
    pub start_us: i64,
    /// End time (µs), if the span ended.
    pub end_us: Option<i64>,
    /// Whether the span failed.
    pub error: bool,
    /// `error.type`.
    pub error_code: Option<String>,
    /// Error description.
    pub error_message: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// `messaging.system`.
    pub system: Option<String>,
    /// `messaging.destination.name`.
    pub destination: Option<String>,
    /// Business attributes worth showing (order, user, customer ids).
    pub business: Vec<(String, String)>,
    /// Every attribute, as text — only for the traces read in full (a report's), else empty.
    pub attributes: Vec<(String, String)>,
    /// Linked span ids.
    pub links: Vec<u64>,
    /// The trace ids of the linked spans, in the order of `links` (0 when unknown).
    pub link_traces: Vec<u128>,
    /// `messaging.destination.template`: the low-cardinality form of the destination.
    pub template: Option<String>,
    /// `messaging.operation.type` (or the older `messaging.operation`): `process`, `receive`…
    pub operation: Option<String>,
    /// A span over several messages (`messaging.batch.message_count`).
    pub batch: bool,
    /// A message span ended without being settled (`tracewire.settled = false`).
    pub unsettled: bool,
    /// The broker said this delivery came before (`tracewire.redelivered = true`).
    pub redelivered: bool,
    /// A span of a broker client or HTTP stack (its `target` / `code.module.name` says so),
    /// not of the application: one that never ends is that library's, not a broken trace.
    pub infrastructure: bool,
}

/// The crates whose own `tracing` spans are infrastructure (lapin's `io_loop` never ends).
const INFRASTRUCTURE: [&str; 10] = [
    "lapin",
    "amq_protocol",
    "async_nats",
    "rdkafka",
    "hyper",
    "hyper_util",
    "h2",
    "tower",
    "tonic",
    "reqwest",
];

/// Whether a `tracing` target or module path (`lapin::io_loop`) is a broker client's or an HTTP
/// stack's.
pub fn is_infrastructure(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    INFRASTRUCTURE.contains(&krate)
}

impl Span {
    /// Duration in µs (0 while open).
    pub fn duration_us(&self) -> i64 {
        self.end_us.map_or(0, |e| (e - self.start_us).max(0))
    }
}

/// Parses 16 hex digits.
pub fn span_id(s: &str) -> Option<u64> {
    (s.len() == 16)
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
        .filter(|&v| v != 0)
}

/// Microseconds since the epoch from RFC 3339 (`2026-11-22T04:20:00.123456Z`).
pub fn micros(ts: &str) -> Option<i64> {
    fast_micros(ts).or_else(|| {
        let t = humantime::parse_rfc3339_weak(ts.trim_end_matches('Z')).ok()?;
        Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros() as i64)
    })
}

/// The exact shape the span log writes, without allocation.
fn fast_micros(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(b.get(r)?).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = if b[19] == b'.' {
        let digits = &ts[20..ts.len() - 1];
        let padded = format!("{digits:0<6}");
        padded.get(..6)?.parse::<i64>().ok()?
    } else {
        0
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(micros("1970-01-01T00:00:01.000002Z"), Some(1_000_002));
        for ts in [
            "2026-11-22T04:20:00Z",
            "2000-02-29T23:59:59.999999Z",
            "2026-03-01T00:00:00.5Z",
        ] {
            let slow = humantime::parse_rfc3339(ts)
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            assert_eq!(fast_micros(ts), Some(slow.as_micros() as i64), "{ts}");
        }
        assert_eq!(micros("garbage"), None);
    }
}
