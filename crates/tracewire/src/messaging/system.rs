//! A messaging system and the defaults that travel with it.

use super::attributes::MESSAGE_KEY;

/// A messaging system (`messaging.system`) and its own defaults, so that building
/// instrumentation for it cannot lose them: each broker crate exports its `SYSTEM`, and
/// `Messaging::builder(tracewire_kafka::SYSTEM)` records Kafka keys under Kafka's attribute.
///
/// ```
/// use tracewire::messaging::{Messaging, System};
///
/// const QUEUE: System = System::new("my-queue").with_key_attribute("my_queue.message.key");
/// let messaging = Messaging::builder(QUEUE).build();
/// assert_eq!(messaging.system(), QUEUE);
/// assert_eq!(QUEUE.name(), "my-queue");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct System {
    name: &'static str,
    key_attribute: &'static str,
}

impl System {
    /// The system called `name` (`kafka`, `rabbitmq`, `nats`…); keys recorded (on opt-in) as
    /// `tracewire.message.key`.
    pub const fn new(name: &'static str) -> Self {
        System {
            name,
            key_attribute: MESSAGE_KEY,
        }
    }

    /// The attribute that records message keys on opt-in (a system with a semconv key attribute
    /// names it here).
    pub const fn with_key_attribute(mut self, attribute: &'static str) -> Self {
        self.key_attribute = attribute;
        self
    }

    /// `messaging.system`.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// The attribute message keys are recorded under.
    pub const fn key_attribute(self) -> &'static str {
        self.key_attribute
    }
}
