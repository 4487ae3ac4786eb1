//! What the messaging skeleton knows of the span it is starting, told to span processors on the
//! starting thread. `SpanProcessor::on_start` sees a started span only through
//! `Span::exported_data`, a copy of the whole span (every attribute, every link, the scope) per
//! span; a processor that keeps a few fields of it at start — tracewire-telemetry's span log, for
//! its start lines — reads them here instead. Described only once a processor asked
//! ([`want_starting`]): an atomic load a span otherwise.

use opentelemetry::trace::{Link, SpanId, SpanKind};
use opentelemetry::KeyValue;
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
    /// The parent's span id, [`SpanId::INVALID`] for a root: which start this describes.
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

/// The messaging span being started on this thread whose parent is `parent`, if the skeleton is
/// starting one: taken, so a second call gets `None`. For `SpanProcessor::on_start`.
pub fn take_starting(parent: SpanId) -> Option<Starting> {
    STARTING.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_ref() {
            Some(starting) if starting.parent == parent => s.take(),
            _ => None,
        }
    })
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

    #[test]
    fn told_only_while_starting_to_the_start_of_its_parent_and_once() {
        assert_eq!(take_starting(SpanId::from(1)), None, "nothing is starting");
        let (wrong_parent, taken, again) = describing(Some(starting(1)), || {
            (
                take_starting(SpanId::from(2)),
                take_starting(SpanId::from(1)),
                take_starting(SpanId::from(1)),
            )
        });
        assert_eq!(wrong_parent, None);
        assert_eq!(taken, Some(starting(1)));
        assert_eq!(again, None, "taken once");
        describing(Some(starting(3)), || ()); // nobody takes it
        assert_eq!(
            take_starting(SpanId::from(3)),
            None,
            "dropped after the start"
        );
    }
}
