//! What a JetStream message's span needs from its `$JS.ACK.` reply subject (ADR-15): the
//! stream, the consumer, the delivery count, the stream sequence and the publish time, read in
//! one pass over the subject's bytes.
//!
//! async-nats's `Message::info` reads the same subject whole — every token through `split`,
//! every number through `str::parse`, the time as an `i128` into a date — about 1,500
//! instructions a message, a third of what tracewire's own code spends on it. This reads the
//! subject once, and only what the span records. A subject this does not read falls back to
//! `info` (see [`read`]); the property test below holds the two to the same answers.

use async_nats::jetstream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One delivery, as its ack subject tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery<'a> {
    pub(crate) stream: &'a str,
    pub(crate) consumer: &'a str,
    /// Delivery attempts: above 1, a redelivery.
    pub(crate) delivered: u64,
    pub(crate) stream_sequence: u64,
    /// When the server received the message from its publisher.
    pub(crate) published: SystemTime,
}

/// `message`'s delivery: read from its reply subject, or by async-nats where this reader
/// does not know the subject's shape. `None` for a message that is not a JetStream delivery.
pub(crate) fn read(message: &jetstream::Message) -> Option<Delivery<'_>> {
    let reply = message.reply.as_deref()?;
    parse(reply).or_else(|| {
        let info = message.info().ok()?;
        Some(Delivery {
            stream: info.stream,
            consumer: info.consumer,
            delivered: u64::try_from(info.delivered).ok()?,
            stream_sequence: info.stream_sequence,
            published: info.published.into(),
        })
    })
}

/// The tokens after `$JS.ACK.`: 7 in the original format (stream, consumer, delivered, stream
/// sequence, consumer sequence, time, pending); 9 or more in ADR-15's v2, which puts the domain
/// and account hash first and may end with more.
const V1_TOKENS: usize = 7;
const V2_TOKENS: usize = 9;

/// Reads `reply`; `None` for any subject that is not one of the two shapes, or with a number
/// that does not fit.
pub(crate) fn parse(reply: &str) -> Option<Delivery<'_>> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    let mut ends = [0usize; MAX_TOKENS];
    let count = token_ends(rest.as_bytes(), &mut ends);
    let token = |i: usize| {
        let start = if i == 0 { 0 } else { ends[i - 1] + 1 };
        rest.get(start..ends[i])
    };
    let first = match count {
        V1_TOKENS => 0,
        n if n >= V2_TOKENS => 2,
        _ => return None,
    };
    let nanos = number(token(first + 5)?)?;
    Some(Delivery {
        stream: token(first)?,
        consumer: token(first + 1)?,
        delivered: number(token(first + 2)?)?,
        stream_sequence: number(token(first + 3)?)?,
        published: UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))?,
    })
}

/// The tokens looked at: the v2 shape's first ten (more are ignored).
const MAX_TOKENS: usize = 10;

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// Where each of the first [`MAX_TOKENS`] `.`-separated tokens of `bytes` ends, and how many
/// there are (at most `MAX_TOKENS`). Eight bytes a step: a subject is some 60–100 bytes.
fn token_ends(bytes: &[u8], ends: &mut [usize; MAX_TOKENS]) -> usize {
    let mut count = 0;
    let mut push = |at: usize| {
        if let Some(end) = ends.get_mut(count) {
            *end = at;
            count += 1;
        }
    };
    let mut words = bytes.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        // A byte of `x` is zero exactly where the subject has a dot; its top bit marks it
        // (exact: no borrow crosses bytes).
        let x = u64::from_le_bytes(eight) ^ (u64::from(b'.') * ONES);
        let mut dots = !(((x & LOW_SEVEN) + LOW_SEVEN) | x | LOW_SEVEN);
        while dots != 0 {
            push(base + dots.trailing_zeros() as usize / 8);
            dots &= dots - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b'.' {
            push(base + i);
        }
    }
    push(bytes.len());
    count
}

/// A decimal number of ASCII digits (no sign, no spaces), or `None`. Up to 19 digits cannot
/// overflow, so no check is made per digit.
fn number(digits: &str) -> Option<u64> {
    let digits = digits.as_bytes();
    let all_digits = digits.iter().fold(true, |ok, &b| ok & b.is_ascii_digit());
    if digits.is_empty() || !all_digits {
        return None;
    }
    let value = |d: &[u8]| d.iter().fold(0u64, |v, &b| v * 10 + u64::from(b - b'0'));
    match digits.len() {
        ..=19 => Some(value(digits)),
        _ => digits.iter().try_fold(0u64, |v, &b| {
            v.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_shapes_are_read() {
        let v1 = parse("$JS.ACK.ORDERS.worker.2.41.40.1700000000123456789.7").unwrap();
        assert_eq!(
            (v1.stream, v1.consumer, v1.delivered, v1.stream_sequence),
            ("ORDERS", "worker", 2, 41)
        );
        let since_epoch = v1.published.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(since_epoch.as_nanos(), 1_700_000_000_123_456_789);
        let v2 =
            parse("$JS.ACK.hub.ACCHASH.ORDERS.worker.1.9.9.1700000000000000000.0.tok.x").unwrap();
        assert_eq!(
            (v2.stream, v2.consumer, v2.delivered),
            ("ORDERS", "worker", 1)
        );
    }

    #[test]
    fn other_subjects_are_not_read() {
        for reply in [
            "",
            "_INBOX.abc",
            "$JS.ACK.ORDERS.worker.1.2.3.4",
            "$JS.ACK.ORDERS.worker.x.2.3.4.5",
            "$JS.ACK.ORDERS.worker.-1.2.3.4.5",
            "$JS.ACK.a.b.S.c.1.2.3.99999999999999999999999.0",
            "$JS.ACK.hub.H.S.c.1.2",
        ] {
            assert_eq!(parse(reply), None, "{reply}");
        }
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,12}"
    }

    /// A JetStream message with `reply` as its subject, on a client that never connects
    /// (`info` reads the subject only).
    fn message(reply: &str) -> jetstream::Message {
        static CONTEXT: std::sync::OnceLock<jetstream::Context> = std::sync::OnceLock::new();
        let context = CONTEXT.get_or_init(|| {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let context = runtime.block_on(async {
                let client = async_nats::ConnectOptions::new()
                    .retry_on_initial_connect()
                    .connect("nats://127.0.0.1:1")
                    .await;
                jetstream::new(client.unwrap())
            });
            std::mem::forget(runtime); // the offline client's task stays parked, not dropped
            context
        });
        jetstream::Message {
            message: async_nats::Message {
                subject: "orders".into(),
                reply: Some(reply.into()),
                payload: Default::default(),
                headers: None,
                status: None,
                description: None,
                length: 0,
            },
            context: context.clone(),
        }
    }

    /// The same reading by `split` and `str::parse`: slow and plain.
    fn plainly(reply: &str) -> Option<(&str, &str, u64, u64, u64)> {
        let tokens: Vec<&str> = reply.strip_prefix("$JS.ACK.")?.split('.').collect();
        let t = match tokens.len() {
            7 => &tokens[..],
            n if n >= 9 => &tokens[2..],
            _ => return None,
        };
        // Digits only: `str::parse` would take a `+` too (a subject with one goes to `info`).
        let n = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse::<u64>().ok())?
        };
        Some((t[0], t[1], n(t[2])?, n(t[3])?, n(t[5])?))
    }

    proptest! {
        /// Any subject: no panic, and the same answer as the plain reading.
        #[test]
        fn reads_any_subject_as_split_does(
            tokens in proptest::collection::vec("[a-z0-9]{0,5}|[0-9]{1,21}", 0..13),
        ) {
            let reply = format!("$JS.ACK.{}", tokens.join("."));
            let ours = parse(&reply).map(|d| {
                let nanos = d.published.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
                (d.stream, d.consumer, d.delivered, d.stream_sequence, nanos)
            });
            prop_assert_eq!(ours, plainly(&reply));
        }

        /// Any text at all after the prefix (multi-byte characters, empty tokens): the same.
        #[test]
        fn reads_any_text_as_split_does(tail in any::<String>()) {
            let reply = format!("$JS.ACK.{tail}");
            let ours = parse(&reply).map(|d| {
                let nanos = d.published.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
                (d.stream, d.consumer, d.delivered, d.stream_sequence, nanos)
            });
            prop_assert_eq!(ours, plainly(&reply));
        }

        /// Whatever the subject, this reader agrees with async-nats's `info` where it reads
        /// the subject, and reads every subject `info` reads.
        #[test]
        fn agrees_with_async_nats(
            v2 in any::<bool>(),
            names in proptest::collection::vec(token(), 4),
            numbers in proptest::collection::vec(0u64..u64::MAX / 2, 4),
            delivered in 1u64..1_000,
            nanos in 0u64..4_000_000_000_000_000_000,
            extra in proptest::collection::vec(token(), 0..3),
        ) {
            let (domain, hash, stream, consumer) = (&names[0], &names[1], &names[2], &names[3]);
            let n = &numbers;
            let mut subject = String::from("$JS.ACK.");
            if v2 {
                subject += &format!("{domain}.{hash}.");
            }
            subject += &format!("{stream}.{consumer}.{delivered}.{}.{}.{nanos}.{}", n[0], n[1], n[2]);
            if v2 {
                for e in &extra {
                    subject += &format!(".{e}");
                }
            }
            let message = message(&subject);
            let info = message.info().expect("async-nats reads it");
            let ours = parse(&subject).expect("and so does this");
            let published: SystemTime = info.published.into();
            prop_assert_eq!(
                (ours.stream, ours.consumer, ours.stream_sequence, ours.published),
                (info.stream, info.consumer, info.stream_sequence, published)
            );
            prop_assert_eq!(ours.delivered as i64, info.delivered);
            prop_assert_eq!(read(&message), Some(ours));
        }
    }
}
