//! What may cross a hop at a destination: header capture, baggage rules, a trust boundary, and
//! where a trace should end and a linked one begin. Set per destination pattern on the
//! [`MessagingBuilder`](super::MessagingBuilder), resolved once per destination (with the rest of
//! its cache entry), applied by the core's send and receive skeleton for every broker.

use super::boundary::TraceBoundary;
use super::glob::Glob;
use crate::stats::{bump, PropagationStats};
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::Context;
use std::time::Duration;

/// Which baggage members may cross, and how many: an allow list (when set, nothing else
/// crosses), a deny list (wins over the allow list), and caps on members and bytes (a key and
/// value's length plus its properties, before percent-encoding). Members beyond a cap are left
/// out in key order, so the same baggage always keeps the same members.
///
/// ```
/// use tracewire::messaging::BaggageRules;
///
/// let rules = BaggageRules::new().allow(["tenant", "feature.*"]).deny(["feature.secret"]).max_members(4);
/// # let _ = rules;
/// ```
#[derive(Debug, Clone, Default)]
pub struct BaggageRules {
    allow: Option<Vec<Glob>>,
    deny: Vec<Glob>,
    max_members: Option<usize>,
    max_bytes: Option<usize>,
}

impl BaggageRules {
    /// No rule: everything the W3C limits allow crosses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Nothing crosses.
    pub fn none() -> Self {
        Self::new().allow(std::iter::empty::<&str>())
    }

    /// Only keys matching one of `keys` (patterns with `*`) cross.
    pub fn allow<G: Into<Glob>>(mut self, keys: impl IntoIterator<Item = G>) -> Self {
        self.allow = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Keys matching one of `keys` never cross.
    pub fn deny<G: Into<Glob>>(mut self, keys: impl IntoIterator<Item = G>) -> Self {
        self.deny.extend(keys.into_iter().map(Into::into));
        self
    }

    /// At most `n` members cross.
    pub fn max_members(mut self, n: usize) -> Self {
        self.max_members = Some(n);
        self
    }

    /// At most `n` bytes of members cross.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = Some(n);
        self
    }

    fn is_open(&self) -> bool {
        self.allow.is_none()
            && self.deny.is_empty()
            && self.max_members.is_none()
            && self.max_bytes.is_none()
    }

    fn admits(&self, key: &str) -> bool {
        let allowed =
            (self.allow.as_ref()).is_none_or(|allow| allow.iter().any(|g| g.matches(key)));
        allowed && !self.deny.iter().any(|g| g.matches(key))
    }

    /// The members of `bag` that cross, and how many did not; `None` when all of them cross.
    fn filter(&self, bag: &Baggage) -> Option<(Baggage, usize)> {
        if self.is_open() || bag.is_empty() {
            return None;
        }
        let mut members: Vec<_> = bag
            .iter()
            .filter(|(k, _)| self.admits(k.as_str()))
            .collect();
        members.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let (mut kept, mut bytes) = (Baggage::new(), 0);
        for (key, (value, meta)) in members {
            let len = key.as_str().len() + value.as_str().len() + meta.as_str().len();
            let full = self.max_members.is_some_and(|n| kept.len() >= n)
                || self.max_bytes.is_some_and(|n| bytes + len > n);
            if full {
                break;
            }
            bytes += len;
            kept.insert_with_metadata(key.clone(), value.clone(), meta.clone());
        }
        let refused = bag.len() - kept.len();
        (refused > 0).then_some((kept, refused))
    }
}

/// What crosses a hop at the destinations it is set for. Everything is off by default: a
/// policy changes only what its methods name.
///
/// ```
/// use std::time::Duration;
/// use tracewire::messaging::{BaggageRules, HopPolicy, Messaging, System};
///
/// let messaging = Messaging::builder(System::new("kafka"))
///     // Record tenant headers, and only let the tenant through in baggage.
///     .policy("orders.*", HopPolicy::new()
///         .capture_headers(["x-tenant-*"])
///         .baggage(BaggageRules::new().allow(["tenant"])))
///     // A partner's topic: no baggage either way, no tracestate.
///     .policy("partner.*", HopPolicy::new().external().strip_tracestate())
///     // A dead-letter replay days later starts its own trace, linked to the original.
///     .policy("*.dlq", HopPolicy::new().new_trace_after_queue_time(Duration::from_secs(3600)))
///     .build();
/// # let _ = messaging;
/// ```
#[derive(Debug, Clone, Default)]
pub struct HopPolicy {
    pub(crate) capture: Vec<Glob>,
    accept: BaggageRules,
    inject: BaggageRules,
    external: bool,
    strip_tracestate: bool,
    pub(crate) boundary: TraceBoundary,
}

impl HopPolicy {
    /// A policy that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records these headers (names or patterns, any case) on the span as
    /// `messaging.header.<name>`: a string, or an array where the header repeats; each value at
    /// most 256 bytes, control characters removed. tracewire's own headers are never recorded.
    pub fn capture_headers<G: Into<Glob>>(mut self, names: impl IntoIterator<Item = G>) -> Self {
        self.capture.extend(names.into_iter().map(Into::into));
        self
    }

    /// The same baggage rules for what is sent and what is received.
    pub fn baggage(self, rules: BaggageRules) -> Self {
        self.inject_baggage(rules.clone()).accept_baggage(rules)
    }

    /// Rules for the baggage a received message brings into its handler's context.
    pub fn accept_baggage(mut self, rules: BaggageRules) -> Self {
        self.accept = rules;
        self
    }

    /// Rules for the baggage written into a sent message (the sender's context keeps all of it).
    pub fn inject_baggage(mut self, rules: BaggageRules) -> Self {
        self.inject = rules;
        self
    }

    /// A trust boundary: no baggage is sent to or accepted from these destinations. The trace
    /// context still crosses (add [`strip_tracestate`](Self::strip_tracestate) for its vendor
    /// state, or a [trace boundary](Self::new_trace_after_hops) for the trace itself).
    pub fn external(mut self) -> Self {
        self.external = true;
        self
    }

    /// No `tracestate` crosses either way (vendors' state stays inside).
    pub fn strip_tracestate(mut self) -> Self {
        self.strip_tracestate = true;
        self
    }

    /// A message that waited in the queue longer than `limit` starts a new trace with a link to
    /// the message's context (a dead-letter replay, a backlog drained hours later). Needs the
    /// message's timestamp: Kafka's, AMQP's `timestamp` property, JetStream's publish time.
    pub fn new_trace_after_queue_time(mut self, limit: Duration) -> Self {
        self.boundary.after_queue_time = Some(limit);
        self
    }

    /// A message on its hop number `hops + 1` or later starts a new trace with a link: a trace
    /// spans at most `hops` messaging hops. Hops are counted by tracewire producers in the
    /// `tracewire` tracestate member ([`count_hops`](Self::count_hops)).
    pub fn new_trace_after_hops(mut self, hops: u32) -> Self {
        self.boundary.after_hops = Some(hops);
        self
    }

    /// Starts counting hops on messages sent here: `tracewire=h:<n>` in `tracestate`. Once a
    /// trace carries the count, every tracewire producer after it adds one (whatever its policy);
    /// other instrumentations pass it on unchanged.
    pub fn count_hops(mut self) -> Self {
        self.boundary.count_hops = true;
        self
    }

    /// The message's context as the handler should see it: baggage that may not cross removed
    /// (counted), tracestate stripped where asked. `None`: unchanged.
    pub(crate) fn incoming(&self, msg: &Context, stats: &PropagationStats) -> Option<Context> {
        self.governed(msg, &self.accept, stats)
    }

    /// The sender's context as the message should carry it.
    pub(crate) fn outgoing(&self, cx: &Context, stats: &PropagationStats) -> Option<Context> {
        self.governed(cx, &self.inject, stats)
    }

    fn governed(
        &self,
        cx: &Context,
        rules: &BaggageRules,
        stats: &PropagationStats,
    ) -> Option<Context> {
        let bag = cx.baggage();
        let baggage = match self.external {
            true if !bag.is_empty() => Some((Baggage::new(), bag.len())),
            true => None,
            false => rules.filter(bag),
        };
        let state_set = *cx.span().span_context().trace_state() != TraceState::NONE;
        if baggage.is_none() && !(self.strip_tracestate && state_set) {
            return None;
        }
        let mut out = cx.clone();
        if let Some((kept, refused)) = baggage {
            bump(&stats.baggage_members_refused, refused);
            out = out.with_baggage(kept);
        }
        if self.strip_tracestate && state_set {
            out = with_trace_state(&out, TraceState::NONE);
        }
        Some(out)
    }
}

/// `cx` whose span context carries `state` instead (for what is injected or handed on; the
/// span itself is not touched).
pub(crate) fn with_trace_state(cx: &Context, state: TraceState) -> Context {
    let span = cx.span();
    let sc = span.span_context();
    let changed = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        sc.is_remote(),
        state,
    );
    cx.with_remote_span_context(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(pairs: &[(&str, &str)]) -> Baggage {
        let mut b = Baggage::new();
        for (k, v) in pairs {
            b.insert(k.to_string(), v.to_string());
        }
        b
    }

    fn keys(b: &Baggage) -> Vec<String> {
        let mut k: Vec<_> = b.iter().map(|(k, _)| k.as_str().to_owned()).collect();
        k.sort();
        k
    }

    #[test]
    fn allow_deny_and_caps_keep_a_stable_subset() {
        let b = bag(&[
            ("tenant", "7"),
            ("feature.a", "1"),
            ("feature.secret", "x"),
            ("user", "ana"),
        ]);
        let rules = BaggageRules::new()
            .allow(["tenant", "feature.*"])
            .deny(["feature.secret"]);
        let (kept, refused) = rules.filter(&b).unwrap();
        assert_eq!(
            (keys(&kept), refused),
            (vec!["feature.a".to_owned(), "tenant".to_owned()], 2)
        );
        let (kept, _) = BaggageRules::new().max_members(1).filter(&b).unwrap();
        assert_eq!(keys(&kept), ["feature.a"], "key order decides who stays");
        let (kept, _) = BaggageRules::new().max_bytes(10).filter(&b).unwrap();
        assert_eq!(keys(&kept), ["feature.a"], "'feature.a'+'1' is 10 bytes");
        assert!(BaggageRules::new().filter(&b).is_none(), "no rule, no copy");
        assert_eq!(BaggageRules::none().filter(&b).unwrap().1, 4);
    }

    #[test]
    fn an_external_destination_strips_baggage_and_on_request_tracestate() {
        let stats = PropagationStats::default();
        let cx = crate::testing::sample_context().with_baggage(bag(&[("tenant", "7")]));
        let cx = with_trace_state(&cx, TraceState::from_key_value([("vendor", "x")]).unwrap());
        let out = HopPolicy::new().external().outgoing(&cx, &stats).unwrap();
        assert!(out.baggage().is_empty());
        assert_eq!(out.span().span_context().trace_state().header(), "vendor=x");
        let out = HopPolicy::new()
            .external()
            .strip_tracestate()
            .incoming(&cx, &stats)
            .unwrap();
        assert_eq!(*out.span().span_context().trace_state(), TraceState::NONE);
        assert_eq!(
            out.span().span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
        assert_eq!(stats.snapshot().baggage_members_refused, 2);
        assert!(HopPolicy::new().outgoing(&cx, &stats).is_none());
    }
}
