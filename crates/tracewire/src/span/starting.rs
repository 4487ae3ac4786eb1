//! What the messaging skeleton knows of a span it has just started, told to one listener (a span
//! processor that keeps a few fields of every started span: tracewire-telemetry's span log, for
//! its start lines). `SpanProcessor::on_start` sees a started span only through
//! `Span::exported_data`, a copy of the whole span — every attribute, every link, the scope — per
//! span; a listener is told the few fields instead, built only for a span that records and that
//! its processor saw start. Without a listener a span pays one atomic load; with one, a span that
//! does not record pays a thread-local flag set and cleared, and a few cheap copies.

use opentelemetry::trace::{Link, SpanId, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

/// A messaging span that has just started, as the skeleton handed it to the SDK: its parent,
/// name, kind and links, and the attributes that say which operation it is —
/// `messaging.system`, `messaging.destination.name` and `.template`, the conversation id. Not
/// the rest (operation name and type, partition, sizes, server, a hook's additions).
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
    use crate::messaging::attributes::{
        CONVERSATION_ID, DESTINATION_NAME, DESTINATION_TEMPLATE, SYSTEM,
    };
    [
        SYSTEM,
        DESTINATION_NAME,
        DESTINATION_TEMPLATE,
        CONVERSATION_ID,
    ]
    .contains(&key)
}

/// Told of every messaging span the skeleton starts that records.
pub trait StartListener: Send + Sync + 'static {
    /// The span active in `cx` has just started; `describe` says what it is — call it only if
    /// the span is one of yours (its processor's `on_start` saw it): it copies a few values.
    fn started(&self, cx: &Context, describe: &mut dyn FnMut() -> Starting);
}

static LISTENER: OnceLock<Arc<dyn StartListener>> = OnceLock::new();

thread_local! {
    /// Set while the skeleton starts a span (and will tell the listener).
    static STARTING: Cell<bool> = const { Cell::new(false) };
}

/// Installs the process's listener; `false` if one is installed already (it stays).
pub fn set_start_listener(listener: Arc<dyn StartListener>) -> bool {
    LISTENER.set(listener).is_ok()
}

/// Whether the span now starting on this thread is the skeleton's, which tells the listener once
/// it has started: for the listener's processor's `on_start`, which can then leave the copy out.
pub fn skeleton_starting() -> bool {
    STARTING.with(Cell::get)
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

/// Whether a listener is installed (so the skeleton keeps what a description needs).
pub(crate) fn listening() -> bool {
    LISTENER.get().is_some()
}

/// Runs `start` (the SDK starting the span, its processors' `on_start` with it), marked as the
/// skeleton's, then tells the listener, if any, about the span if it records.
pub(crate) fn start_told(
    start: impl FnOnce() -> Context,
    mut describe: impl FnMut() -> Starting,
) -> Context {
    let Some(listener) = LISTENER.get() else {
        return start();
    };
    STARTING.with(|s| s.set(true));
    let cx = start();
    STARTING.with(|s| s.set(false));
    if cx.span().is_recording() {
        listener.started(&cx, &mut describe);
    }
    cx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifying_attributes() {
        for key in [
            "messaging.system",
            "messaging.destination.name",
            "messaging.destination.template",
            "messaging.message.conversation_id",
        ] {
            assert!(identifying(key), "{key}");
        }
        for key in [
            "messaging.operation.name",
            "server.address",
            "messaging.destination",
            "messaging.destination.partition.id",
        ] {
            assert!(!identifying(key), "{key}");
        }
    }
}
