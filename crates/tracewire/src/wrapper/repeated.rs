//! Attribute values a consumer's messages repeat — a JetStream message's stream and consumer
//! names, an AMQP delivery's routing key — made once and shared rather than allocated anew for
//! every message.

use opentelemetry::StringValue;
use std::sync::{Arc, Mutex, PoisonError};

/// The last text seen, kept as an attribute value: a message that carries the same text gets
/// a clone of it (a reference count); a new text replaces it. One per attribute and wrapper,
/// shared by the wrapper's messages (an uncontended lock: a stream yields one message at a
/// time).
///
/// ```
/// use tracewire::wrapper::Repeated;
///
/// let stream = Repeated::default();
/// let first = stream.value("ORDERS");
/// let second = stream.value("ORDERS");
/// assert_eq!(first.as_str(), "ORDERS");
/// assert_eq!(first.as_str().as_ptr(), second.as_str().as_ptr()); // one allocation, shared
/// assert_eq!(stream.value("PAYMENTS").as_str(), "PAYMENTS");
/// ```
#[derive(Debug, Default)]
pub struct Repeated(Mutex<Option<StringValue>>);

impl Repeated {
    /// `text` as an attribute value: the kept one when it is the same text.
    pub fn value(&self, text: &str) -> StringValue {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*last {
            Some(kept) if kept.as_str() == text => kept.clone(),
            _ => {
                let value = StringValue::from(Arc::<str>::from(text));
                *last = Some(value.clone());
                value
            }
        }
    }
}

impl Clone for Repeated {
    fn clone(&self) -> Self {
        let last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Repeated(Mutex::new(last.clone()))
    }
}
