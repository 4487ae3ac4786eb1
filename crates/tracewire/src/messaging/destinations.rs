//! Destinations resolved once per [`Messaging`](super::Messaging): the template hook's answer, the
//! shared strings spans and metrics record, and the span names `{operation} {destination}`. A
//! message to a destination seen before allocates none of them.

use super::glob::Glob;
use super::leaked::Leaked;
use super::metrics::{AttributeSet, Instruments};
use super::policy::HopPolicy;
use super::recent;
use super::OperationType;
use opentelemetry::StringValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// Destinations remembered per `Messaging`; past this (high-cardinality names without a
/// template), further destinations are resolved per message, as if there were no cache.
pub const MAX_DESTINATIONS: usize = 1024;

/// Span names made `'static` per process; past this, names are allocated per span.
pub const MAX_SPAN_NAMES: usize = 4096;

/// Maps a destination to its template (`None`: keep the name).
pub(crate) type TemplateHook = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Destination patterns and their policies, the first match applying.
pub(crate) type Policies = Vec<(Glob, Arc<HopPolicy>)>;

/// Destination names and templates made `'static` per process, at most this many and each at
/// most [`MAX_INTERNED_LEN`] bytes; past that, they are shared through a reference count.
const MAX_INTERNED_DESTINATIONS: usize = 4096;
const MAX_INTERNED_LEN: usize = 256;

/// One destination as spans and metrics show it. `'static` strings where they fit the bound, so
/// that cloning one — for each span's attribute and each measurement — touches no reference
/// count shared between threads.
#[derive(Clone)]
pub(crate) struct Destination {
    pub(crate) name: StringValue,
    pub(crate) template: Option<StringValue>,
    /// What may cross a hop here (`None`: no policy matched, the common case).
    pub(crate) policy: Option<Arc<HopPolicy>>,
}

impl Destination {
    /// `value` makes the strings: interned for a destination the cache keeps, shared for one
    /// resolved per message past the cache's bound (no process-wide lock per message).
    fn new(
        name: &str,
        hook: Option<&TemplateHook>,
        policies: &Policies,
        value: fn(&str) -> StringValue,
    ) -> Self {
        Destination {
            name: value(name),
            template: hook.and_then(|t| t(name)).map(|t| value(&t)),
            policy: (policies.iter())
                .find(|(glob, _)| glob.matches(name))
                .map(|(_, policy)| policy.clone()),
        }
    }

    /// What span names and metrics show: the template when there is one.
    pub(crate) fn shown(&self) -> &StringValue {
        self.template.as_ref().unwrap_or(&self.name)
    }

    /// `{operation} {shown}`, or the operation alone when there is no destination.
    fn span_name(&self, operation: &'static str) -> String {
        let shown = self.shown().as_str();
        if shown.is_empty() {
            operation.to_owned()
        } else {
            format!("{operation} {shown}")
        }
    }
}

struct Entry {
    destination: Destination,
    /// Per operation (`send`, `process`, `ack`…): a handful at most.
    operations: Vec<Operation>,
}

/// One operation on a destination, made on its first sight.
struct Operation {
    name: &'static str,
    kind: OperationType,
    span_name: Cow<'static, str>,
    /// Its metrics' attributes (`None`: no metrics, or past the process-wide bound).
    metric_attributes: Option<&'static AttributeSet>,
}

impl Entry {
    #[inline(always)] // on the per-message path; a call would copy the whole `Resolved` out
    fn resolved(&self, operation: usize) -> Resolved {
        let op = &self.operations[operation];
        Resolved {
            destination: self.destination.clone(),
            span_name: op.span_name.clone(),
            metric_attributes: op.metric_attributes,
        }
    }
}

impl Operation {
    fn is(&self, name: &'static str, kind: OperationType) -> bool {
        self.name == name && self.kind == kind
    }
}

/// What an operation on a destination resolves to.
pub(crate) struct Resolved {
    pub(crate) destination: Destination,
    /// `{operation} {destination}`.
    pub(crate) span_name: Cow<'static, str>,
    /// The operation's metric attributes, made once (`None`: made per measurement).
    pub(crate) metric_attributes: Option<&'static AttributeSet>,
}

// By hand, to be inlined: a message's resolution is a clone of the thread's recent one, and a
// derived `clone` is a call whose result is copied out again (−23 instructions a message).
impl Clone for Resolved {
    #[inline(always)]
    fn clone(&self) -> Self {
        Resolved {
            destination: self.destination.clone(),
            span_name: self.span_name.clone(),
            metric_attributes: self.metric_attributes,
        }
    }
}

/// The destinations one `Messaging` has resolved, with their span names. Looked up on every
/// message — first in the thread's recent resolutions ([`recent`](super::recent)), then here:
/// hashed with foldhash (a few ns for a topic name, against ~20 for the standard SipHash),
/// seeded per process; the map is bounded ([`MAX_DESTINATIONS`]) whatever arrives.
pub(crate) struct Destinations {
    entries: RwLock<HashMap<Box<str>, Entry, foldhash::fast::RandomState>>,
    /// This map's number in the threads' recent resolutions.
    id: u64,
}

impl Default for Destinations {
    fn default() -> Self {
        Destinations {
            entries: RwLock::default(),
            id: recent::owner_id(),
        }
    }
}

impl Destinations {
    /// How many destinations are remembered (at most [`MAX_DESTINATIONS`]).
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The destination `name`, the span name of operation `operation` (of `kind`) on it, and
    /// with `metrics` the operation's metric attributes. The hook runs once per destination
    /// while the cache has room (a template hook is expected to be a pure function).
    pub(crate) fn resolve(
        &self,
        (operation, kind): (&'static str, OperationType),
        name: &str,
        hook: Option<&TemplateHook>,
        policies: &Policies,
        metrics: Option<&Instruments>,
    ) -> Resolved {
        if let Some(resolved) = recent::get(self.id, (operation, kind), name) {
            return resolved;
        }
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = entries.get(name) {
                if let Some(i) = entry
                    .operations
                    .iter()
                    .position(|op| op.is(operation, kind))
                {
                    let resolved = entry.resolved(i);
                    recent::put(self.id, (operation, kind), &resolved);
                    return resolved;
                }
            }
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if !entries.contains_key(name) && entries.len() >= MAX_DESTINATIONS {
            let destination = Destination::new(name, hook, policies, shared_value);
            let span_name = Cow::Owned(destination.span_name(operation));
            return Resolved {
                destination,
                span_name,
                metric_attributes: None,
            };
        }
        let entry = entries.entry(name.into()).or_insert_with(|| Entry {
            destination: Destination::new(name, hook, policies, interned_value),
            operations: Vec::new(),
        });
        let found = entry
            .operations
            .iter()
            .position(|op| op.is(operation, kind));
        let i = found.unwrap_or_else(|| {
            let shown = entry.destination.shown();
            entry.operations.push(Operation {
                name: operation,
                kind,
                span_name: intern(entry.destination.span_name(operation)),
                metric_attributes: metrics.and_then(|m| m.interned(kind, operation, shown)),
            });
            entry.operations.len() - 1
        });
        entry.resolved(i)
    }
}

/// The span name as a `&'static str` when the process-wide table has room. `SpanBuilder` takes
/// a `Cow<'static, str>`, so without this every span would allocate its name; the conventions
/// keep span names low-cardinality (that is what destination templates are for), so the table
/// holds a bounded set of names for the life of the process.
fn intern(name: String) -> Cow<'static, str> {
    match SPAN_NAMES.get(&name) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(name),
    }
}

/// A destination's name or template as an attribute value: `'static` when the process-wide
/// table has room for it.
fn interned_value(name: &str) -> StringValue {
    match DESTINATION_NAMES.get(name) {
        Some(known) => StringValue::from(known),
        None => shared_value(name),
    }
}

fn shared_value(name: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(name))
}

static SPAN_NAMES: Interned = Interned::new(MAX_SPAN_NAMES, usize::MAX);
static DESTINATION_NAMES: Interned = Interned::new(MAX_INTERNED_DESTINATIONS, MAX_INTERNED_LEN);

/// Strings leaked once and shared for the life of the process, bounded in count and length.
struct Interned {
    names: Leaked<&'static str, str>,
    max_len: usize,
}

impl Interned {
    const fn new(max_count: usize, max_len: usize) -> Self {
        Interned {
            names: Leaked::new(max_count),
            max_len,
        }
    }

    /// The `'static` copy of `name`, made now if the table has room; `None` past the bounds.
    fn get(&self, name: &str) -> Option<&'static str> {
        if name.len() > self.max_len {
            return None;
        }
        self.names.get(name, || {
            let name: &'static str = Box::leak(name.into());
            (name, name)
        })
    }
}

/// How many span names the process has made `'static` (at most [`MAX_SPAN_NAMES`]).
pub(crate) fn interned_span_names() -> usize {
    SPAN_NAMES.names.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// `operation` (a send, here) on `name`, without metrics: the destination and span name.
    fn resolve(
        cache: &Destinations,
        operation: &'static str,
        name: &str,
        hook: Option<&TemplateHook>,
    ) -> (Destination, Cow<'static, str>) {
        let kind = OperationType::Send;
        let r = cache.resolve((operation, kind), name, hook, &Vec::new(), None);
        (r.destination, r.span_name)
    }

    #[test]
    fn the_hook_runs_once_per_destination_and_names_are_shared() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let hook = |d: &str| {
            CALLS.fetch_add(1, Ordering::Relaxed);
            d.starts_with("user.").then(|| "user.{id}".to_owned())
        };
        let cache = Destinations::default();
        let (d1, n1) = resolve(&cache, "send", "user.42", Some(&hook));
        let (d2, n2) = resolve(&cache, "send", "user.42", Some(&hook));
        let (_, n3) = resolve(&cache, "ack", "user.42", Some(&hook));
        assert_eq!(CALLS.load(Ordering::Relaxed), 1);
        assert_eq!(d1.name.as_str(), "user.42");
        assert_eq!(d2.shown().as_str(), "user.{id}");
        assert_eq!(
            (n1.as_ref(), n3.as_ref()),
            ("send user.{id}", "ack user.{id}")
        );
        assert!(matches!((n1, n2), (Cow::Borrowed(a), Cow::Borrowed(b)) if std::ptr::eq(a, b)));
    }

    #[test]
    fn an_operations_metric_attributes_are_made_once_per_process() {
        let instruments = Instruments::new(&opentelemetry::global::meter("test"), "kafka");
        let resolve = |cache: &Destinations, kind| {
            let r = cache.resolve(
                ("op", kind),
                "metrics.a",
                None,
                &Vec::new(),
                Some(&instruments),
            );
            r.metric_attributes.expect("within the bound")
        };
        let first = resolve(&Destinations::default(), OperationType::Process);
        let again = resolve(&Destinations::default(), OperationType::Process);
        assert!(std::ptr::eq(first, again), "one set per process");
        let shown: Vec<_> = first.iter().map(|kv| kv.value.as_str()).collect();
        assert_eq!(shown, ["kafka", "op", "process", "metrics.a"]);
        let other = resolve(&Destinations::default(), OperationType::Receive);
        assert_eq!(
            other[2].value.as_str(),
            "receive",
            "kind is part of the key"
        );
        use super::super::metrics::{interned_attribute_sets, MAX_ATTRIBUTE_SETS};
        let counted = interned_attribute_sets();
        assert!((2..=MAX_ATTRIBUTE_SETS).contains(&counted), "{counted}");
    }

    #[test]
    fn a_threads_recent_resolutions_answer_only_for_their_own_map() {
        let user = |d: &str| d.starts_with("user.").then(|| "user.{id}".to_owned());
        let (templated, plain) = (Destinations::default(), Destinations::default());
        for _ in 0..3 {
            // The same destination on two maps, and more destinations than a thread keeps, in
            // turns: every answer is its own map's, from the map or the thread's slots.
            for i in 0..6 {
                let name = format!("user.{i}");
                let (_, a) = resolve(&templated, "send", &name, Some(&user));
                let (_, b) = resolve(&plain, "send", &name, None);
                let (_, c) = resolve(&templated, "ack", &name, Some(&user));
                assert_eq!(a, "send user.{id}");
                assert_eq!(b, format!("send {name}"));
                assert_eq!(c, "ack user.{id}");
            }
        }
    }

    #[test]
    fn no_destination_names_the_span_after_the_operation() {
        let (d, name) = resolve(&Destinations::default(), "process", "", None);
        assert_eq!((d.shown().as_str(), name.as_ref()), ("", "process"));
    }

    #[test]
    fn a_full_cache_still_resolves_every_destination() {
        let cache = Destinations::default();
        for i in 0..MAX_DESTINATIONS {
            resolve(&cache, "send", &format!("t{i}"), None);
        }
        let (d, name) = resolve(&cache, "send", "one-more", None);
        assert_eq!(
            (d.name.as_str(), name.as_ref()),
            ("one-more", "send one-more")
        );
        assert_eq!(cache.entries.read().unwrap().len(), MAX_DESTINATIONS);
        assert!(
            !DESTINATION_NAMES.names.contains("one-more"),
            "resolved per message: not interned, no process-wide lock per message"
        );
    }

    #[test]
    fn destination_names_are_static_within_their_bounds() {
        let (a, _) = resolve(&Destinations::default(), "send", "interned.a", None);
        let (b, _) = resolve(&Destinations::default(), "send", "interned.a", None);
        assert!(
            std::ptr::eq(a.name.as_str(), b.name.as_str()),
            "one copy per process"
        );
        let long = "x".repeat(MAX_INTERNED_LEN + 1);
        let (d, _) = resolve(&Destinations::default(), "send", &long, None);
        assert_eq!(d.name.as_str(), long);

        let table = Interned::new(2, 4);
        assert_eq!(table.get("a"), Some("a"));
        assert_eq!(table.get("toolong"), None);
        assert_eq!(table.get("b"), Some("b"));
        assert_eq!(table.get("c"), None, "full");
        assert!(std::ptr::eq(
            table.get("a").unwrap(),
            table.get("a").unwrap()
        ));
    }
}
