//! Attribute values a consumer's messages repeat — a JetStream message's stream and consumer
//! names, an AMQP delivery's routing key — made once and shared rather than allocated anew for
//! every message.

use opentelemetry::StringValue;
use std::sync::Arc;

/// The last text seen, kept as an attribute value: a message that carries the same text gets
/// a clone of it (a reference count); a new text replaces it. One per attribute, kept by the
/// wrapper of a stream ([`WrapMessage::wrap`](super::WrapMessage::wrap) has it mutably: no
/// lock).
///
/// ```
/// use tracewire::wrapper::Repeated;
///
/// let mut stream = Repeated::default();
/// let first = stream.value("ORDERS");
/// let second = stream.value("ORDERS");
/// assert_eq!(first.as_str(), "ORDERS");
/// assert_eq!(first.as_str().as_ptr(), second.as_str().as_ptr()); // one allocation, shared
/// assert_eq!(stream.value("PAYMENTS").as_str(), "PAYMENTS");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Repeated(Option<StringValue>);

impl Repeated {
    /// `text` as an attribute value: the kept one when it is the same text.
    pub fn value(&mut self, text: &str) -> StringValue {
        match &self.0 {
            Some(kept) if kept.as_str() == text => kept.clone(),
            _ => self
                .0
                .insert(StringValue::from(Arc::<str>::from(text)))
                .clone(),
        }
    }
}
