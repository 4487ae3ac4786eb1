//! The carrier: AMQP message headers (`BasicProperties::headers`, a field table).

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use opentelemetry::Context;
use std::collections::BTreeMap;
use tracewire::carrier::{
    HeaderReader, HeaderRejected, HeaderWriter, PropagationHeaders, Transport,
};
use tracewire::header::CORRELATION_HEADER;
use tracewire::{CorrelationContextExt, Extracted, Propagator};

/// Reads a message's headers. Long strings, short strings and byte arrays are read as bytes (and
/// the string members of a field array as several values); values of other types (integers,
/// tables…) are ignored. The correlation id falls back to the AMQP `correlation-id` property when
/// no `correlation_id` header is present.
#[derive(Debug, Clone, Copy)]
pub struct AmqpHeaders<'a> {
    headers: Option<&'a FieldTable>,
    correlation_property: Option<&'a ShortString>,
}

impl<'a> AmqpHeaders<'a> {
    /// The headers and correlation-id property of `properties`.
    pub fn new(properties: &'a BasicProperties) -> Self {
        AmqpHeaders {
            headers: properties.headers().as_ref(),
            correlation_property: properties.correlation_id().as_ref(),
        }
    }

    fn header_values<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = &'s [u8]> + use<'s, 'n, 'a> {
        self.headers
            .into_iter()
            .flat_map(|table| table.inner().iter())
            .filter(move |(key, _)| key.as_str().eq_ignore_ascii_case(name))
            .flat_map(|(_, value)| value_bytes(value))
    }
}

/// The bytes of a string-like value; for a field array, of its string-like members.
fn value_bytes(value: &AMQPValue) -> impl Iterator<Item = &[u8]> {
    let (single, members): (Option<&[u8]>, &[AMQPValue]) = match value {
        AMQPValue::FieldArray(array) => (None, array.as_slice()),
        other => (scalar_bytes(other), &[]),
    };
    single
        .into_iter()
        .chain(members.iter().filter_map(scalar_bytes))
}

fn scalar_bytes(value: &AMQPValue) -> Option<&[u8]> {
    match value {
        AMQPValue::LongString(s) => Some(s.as_bytes()),
        AMQPValue::ShortString(s) => Some(s.as_str().as_bytes()),
        AMQPValue::ByteArray(b) => Some(b.as_slice()),
        _ => None,
    }
}

impl Transport for AmqpHeaders<'_> {}

impl HeaderReader for AmqpHeaders<'_> {
    fn values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
        let fallback = if name.eq_ignore_ascii_case(CORRELATION_HEADER)
            && self.header_values(name).next().is_none()
        {
            self.correlation_property.map(|p| p.as_str().as_bytes())
        } else {
            None
        };
        self.header_values(name).chain(fallback)
    }

    fn names(&self) -> Vec<&str> {
        self.headers
            .into_iter()
            .flat_map(|t| t.inner().keys())
            .map(ShortString::as_str)
            .collect()
    }

    fn propagation_headers(&self) -> PropagationHeaders<'_> {
        let table = self.headers.into_iter().flat_map(|t| t.inner().iter());
        let pairs = table.flat_map(|(key, value)| {
            value_bytes(value).map(move |v| (key.as_str().as_bytes(), Some(v)))
        });
        let mut found = PropagationHeaders::scan(pairs, Self::CORRELATION_HEADER);
        if found.correlation.is_none() {
            found.correlation = self.correlation_property.map(|p| p.as_str().as_bytes());
        }
        found
    }
}

/// Builds a message's headers: the caller's are kept, ours replace stale ones (whatever their
/// case). Values are written as AMQP long strings (UTF-8 bytes), as the Java, Python and JS
/// instrumentations write them.
#[derive(Debug, Clone, Default)]
pub struct AmqpHeadersMut {
    map: BTreeMap<ShortString, AMQPValue>,
}

impl AmqpHeadersMut {
    /// Starts from the headers already in `properties`.
    pub fn from_properties(properties: &BasicProperties) -> Self {
        AmqpHeadersMut {
            map: properties
                .headers()
                .as_ref()
                .map(|t| t.inner().clone())
                .unwrap_or_default(),
        }
    }

    /// The field table.
    pub fn into_field_table(self) -> FieldTable {
        FieldTable::from(self.map)
    }
}

impl Transport for AmqpHeadersMut {}

impl HeaderWriter for AmqpHeadersMut {
    fn set(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderRejected> {
        // The fallible constructor: ShortString's From impls panic past 255 bytes.
        let key = ShortString::try_new(name).map_err(|_| HeaderRejected {
            name: name.to_owned(),
        })?;
        self.remove(name);
        self.map
            .insert(key, AMQPValue::LongString(LongString::from(value.to_vec())));
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        self.map
            .retain(|k, _| !k.as_str().eq_ignore_ascii_case(name));
    }
}

/// Injects `cx` into `properties`: headers written (user headers kept), and the AMQP
/// `correlation-id` property set from the correlation id when the caller left it unset — never
/// overwritten.
///
/// ```
/// use lapin::BasicProperties;
/// use opentelemetry::Context;
/// use tracewire::{CorrelationContextExt, Propagator};
///
/// let cx = Context::new().with_correlation_id_or_new();
/// let propagator = Propagator::new();
/// let props = tracewire_amqp::inject(&propagator, &cx, BasicProperties::default());
/// let id = cx.correlation_id().unwrap().as_str();
/// assert_eq!(props.correlation_id().as_ref().map(|s| s.as_str()), Some(id));
/// let extracted = tracewire_amqp::extract(&propagator, &props);
/// assert_eq!(extracted.context.correlation_id(), cx.correlation_id());
/// ```
pub fn inject(
    propagator: &Propagator,
    cx: &Context,
    properties: BasicProperties,
) -> BasicProperties {
    injected(propagator, cx, &properties)(properties)
}

/// [`inject`] in two steps: what `cx` adds, made from a borrow of `properties` (a publish
/// span's details may still borrow them), then applied to them.
pub(crate) fn injected(
    propagator: &Propagator,
    cx: &Context,
    properties: &BasicProperties,
) -> impl FnOnce(BasicProperties) -> BasicProperties {
    let mut headers = AmqpHeadersMut::from_properties(properties);
    propagator.inject(cx, &mut headers);
    let headers = headers.into_field_table();
    // A valid correlation id is at most 128 bytes, so it always fits a short string.
    let correlation = (properties.correlation_id().is_none())
        .then(|| cx.correlation_id())
        .flatten()
        .and_then(|id| ShortString::try_new(id.as_str()).ok());
    move |properties| {
        let properties = properties.with_headers(headers);
        match correlation {
            Some(id) => properties.with_correlation_id(id),
            None => properties,
        }
    }
}

/// The context a message carries (its headers, and the `correlation-id` property as the
/// fallback), extracted with `propagator`: never fails, problems counted.
pub fn extract(propagator: &Propagator, properties: &BasicProperties) -> Extracted {
    propagator.extract(&AmqpHeaders::new(properties))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{ByteArray, FieldArray};

    fn table(entries: Vec<(&str, AMQPValue)>) -> BasicProperties {
        let mut t = FieldTable::default();
        for (k, v) in entries {
            t.insert(ShortString::from(k), v);
        }
        BasicProperties::default().with_headers(t)
    }

    #[test]
    fn every_value_type_is_read_or_ignored_without_failing() {
        let props = table(vec![
            ("TraceParent", AMQPValue::LongString("a".into())),
            ("traceparent", AMQPValue::ShortString("b".into())),
            (
                "TRACEPARENT",
                AMQPValue::ByteArray(ByteArray::from(vec![0xff, 0x00])),
            ),
            (
                "tracestate",
                AMQPValue::FieldArray(FieldArray::from(vec![
                    AMQPValue::LongString("x=1".into()),
                    AMQPValue::LongLongInt(7),
                    AMQPValue::FieldTable(FieldTable::default()),
                    AMQPValue::LongString("y=2".into()),
                ])),
            ),
            ("baggage", AMQPValue::LongLongInt(1)),
            (
                "correlation_id",
                AMQPValue::FieldTable(FieldTable::default()),
            ),
            ("x-void", AMQPValue::Void),
        ]);
        let h = AmqpHeaders::new(&props);
        assert_eq!(
            h.values("traceparent").count(),
            3,
            "long, short and byte-array values, any case"
        );
        assert_eq!(
            h.values("tracestate").collect::<Vec<_>>(),
            vec![&b"x=1"[..], b"y=2"]
        );
        assert_eq!(h.values("baggage").count(), 0, "an integer is ignored");
        assert_eq!(h.values("correlation_id").count(), 0, "a table is ignored");
    }

    #[test]
    fn writing_replaces_ours_in_any_case_and_keeps_the_rest() {
        let props = table(vec![
            ("TraceParent", AMQPValue::LongString("stale".into())),
            ("x-user", AMQPValue::LongLongInt(1)),
        ]);
        let mut w = AmqpHeadersMut::from_properties(&props);
        w.set("traceparent", b"fresh").unwrap();
        assert!(
            w.set(&"k".repeat(300), b"v").is_err(),
            "a name past 255 bytes is refused, not a panic"
        );
        let t = w.into_field_table();
        let keys: Vec<_> = t.inner().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, vec!["traceparent", "x-user"]);
        assert_eq!(
            t.inner()["traceparent"],
            AMQPValue::LongString("fresh".into())
        );
    }

    #[test]
    fn the_correlation_property_is_a_fallback_only() {
        let props = BasicProperties::default().with_correlation_id("prop".into());
        assert_eq!(
            AmqpHeaders::new(&props).last("correlation_id"),
            Some(&b"prop"[..])
        );
        let props = table(vec![(
            "correlation_id",
            AMQPValue::LongString("hdr".into()),
        )])
        .with_correlation_id("prop".into());
        assert_eq!(
            AmqpHeaders::new(&props).last("correlation_id"),
            Some(&b"hdr"[..])
        );
    }
}
