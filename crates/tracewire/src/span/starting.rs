//! What the messaging skeleton knows of the span it is starting, told to span processors on the
//! starting thread. `SpanProcessor::on_start` sees a started span only through
//! `Span::exported_data`, a copy of the whole span (every attribute, every link, the scope) per
//! span; a processor that keeps a few fields of it at start — tracewire-telemetry's span log, for
//! its start lines — reads them here instead. Described only once a processor asked
//! ([`want_starting`]): an atomic load a span otherwise.

use opentelemetry::trace::{Link, SpanId, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// A messaging span being started, as the skeleton hands it to the SDK: its name, kind and links,
/// and the attributes that say which operation it is — `messaging.system`, every
/// `messaging.destination.*` (name, template, partition…) and the conversation id — in the
/// span's own order. Not the rest (operation name and type, sizes, server, a hook's additions).
#[derive(Debug, Clone, PartialEq)]
pub struct Starting {
    /// The parent's span id, [`SpanId::INVALID`] for a root (as the SDK records it).
    pub parent: SpanId,
    /// The span's name.
    pub name: Cow<'static, str>,
    /// The span's kind.
    pub kind: SpanKind,
    /// The identifying attributes.
    pub attributes: SmallVec<[KeyValue; 4]>,
    /// The span's links.
    pub links: Vec<Link>,
}

/// Whether an attribute says which operation a messaging span is (and so is in [`Starting`]).
pub fn identifying(key: &str) -> bool {
    key.starts_with("messaging.destination.")
        || key == crate::messaging::attributes::SYSTEM
        || key == crate::CONVERSATION_ID_ATTRIBUTE
}

static WANTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static STARTING: RefCell<Option<Starting>> = const { RefCell::new(None) };
}

/// Asks the skeleton to describe every messaging span it starts from now on (for
/// [`take_starting`]); for the process's lifetime.
pub fn want_starting() {
    WANTED.store(true, Relaxed);
}

/// The messaging span being started on this thread in `parent` (the context
/// `SpanProcessor::on_start` is given), if the skeleton is starting one there: taken, so a
/// second call gets `None`.
pub fn take_starting(parent: &Context) -> Option<Starting> {
    let parent = parent_span_id(parent);
    STARTING.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_ref() {
            Some(starting) if starting.parent == parent => s.take(),
            _ => None,
        }
    })
}

/// The span id a span started in `cx` gets as its parent: the active span's, if valid.
pub(crate) fn parent_span_id(cx: &Context) -> SpanId {
    let parent = cx.span();
    let sc = parent.span_context();
    if sc.is_valid() {
        sc.span_id()
    } else {
        SpanId::INVALID
    }
}

/// Whether a processor wants spans described.
pub(crate) fn wanted() -> bool {
    WANTED.load(Relaxed)
}

/// Runs `start` (the SDK starting the span, its processors' `on_start` with it) with `starting`
/// told on this thread; what no processor took is dropped after.
pub(crate) fn describing<T>(starting: Option<Starting>, start: impl FnOnce() -> T) -> T {
    if starting.is_none() {
        return start();
    }
    STARTING.with(|s| *s.borrow_mut() = starting);
    let started = start();
    STARTING.with(|s| s.borrow_mut().take());
    started
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starting(parent: u64) -> Starting {
        Starting {
            parent: SpanId::from(parent),
            name: "process orders".into(),
            kind: SpanKind::Consumer,
            attributes: SmallVec::new(),
            links: Vec::new(),
        }
    }

    #[test]
    fn identifying_attributes() {
        for key in [
            "messaging.system",
            "messaging.destination.name",
            "messaging.destination.partition.id",
            "messaging.message.conversation_id",
        ] {
            assert!(identifying(key), "{key}");
        }
        for key in [
            "messaging.operation.name",
            "server.address",
            "messaging.destination",
        ] {
            assert!(!identifying(key), "{key}");
        }
    }

    /// A context whose active span has id `n` (0: no valid span).
    fn in_span(n: u64) -> Context {
        use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
        if n == 0 {
            return Context::new();
        }
        let sc = SpanContext::new(
            TraceId::from(7),
            SpanId::from(n),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        Context::new().with_remote_span_context(sc)
    }

    #[test]
    fn told_only_while_starting_to_the_start_in_its_parent_and_once() {
        assert_eq!(take_starting(&in_span(1)), None, "nothing is starting");
        let (wrong_parent, taken, again) = describing(Some(starting(1)), || {
            (
                take_starting(&in_span(2)),
                take_starting(&in_span(1)),
                take_starting(&in_span(1)),
            )
        });
        assert_eq!(wrong_parent, None);
        assert_eq!(taken, Some(starting(1)));
        assert_eq!(again, None, "taken once");
        describing(Some(starting(3)), || ()); // nobody takes it
        assert_eq!(take_starting(&in_span(3)), None, "dropped after the start");
        let root = describing(Some(starting(0)), || take_starting(&in_span(0)));
        assert_eq!(root.map(|s| s.parent), Some(SpanId::INVALID), "a root");
    }
}
