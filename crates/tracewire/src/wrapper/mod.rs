//! The parts every broker wrapper is built from, written once. A broker crate (Kafka, RabbitMQ,
//! NATS) is a thin adapter over these: its client's carrier types, its attributes, and how its
//! client's results map to an [`Outcome`](crate::Outcome).
//!
//! - Send: [`Messaging::open_send_with`](crate::messaging::Messaging::open_send_with) opens the
//!   send span and injects it; clients whose header lists can only be appended to merge through
//!   [`Propagator::inject_merged`](crate::Propagator::inject_merged).
//! - Receive: [`Messaging::open_message`](crate::messaging::Messaging::open_message) extracts and
//!   opens the span per the topology.
//! - [`Settle`]: the client's acknowledgement future, ending the span with its answer.
//! - [`TracedStream`]: the client's message stream, yielding traced messages.
//! - [`Repeated`]: an attribute value every message of a consumer repeats, made once.
//! - [`wrapper_accessors!`](crate::wrapper_accessors) and
//!   [`message_accessors!`](crate::message_accessors): the same accessor names on every wrapper
//!   and every message, by construction (docs/api.md has the table).

mod repeated;
mod settle;
mod stream;

pub use repeated::Repeated;
pub use settle::Settle;
pub use stream::{TracedStream, WrapMessage, WrapStream};

#[doc(hidden)]
pub mod __private {
    pub use opentelemetry::Context;
}

/// A broker crate's `messaging()` and `builder()`, from its `SYSTEM`: the same two functions
/// in every broker crate, with the system's defaults.
///
/// ```
/// mod my_queue {
///     use tracewire::messaging::System;
///     /// My queue.
///     pub const SYSTEM: System = System::new("my-queue");
///     tracewire::messaging_presets!(SYSTEM, "my queue");
/// }
/// assert_eq!(my_queue::messaging().system(), my_queue::SYSTEM);
/// ```
#[macro_export]
macro_rules! messaging_presets {
    ($system:expr, $name:literal) => {
        #[doc = concat!("Default instrumentation for ", $name, ": its `SYSTEM`, the global tracer ")]
        #[doc = "(taken now: install the provider first), the default propagator."]
        pub fn messaging() -> $crate::messaging::Messaging {
            builder().build()
        }

        #[doc = concat!("A `Messaging` builder for ", $name, ", with its defaults: to change the ")]
        #[doc = "topology, hooks, tracer…"]
        pub fn builder() -> $crate::messaging::MessagingBuilder {
            $crate::messaging::Messaging::builder($system)
        }
    };
}

/// The accessors of a client wrapper — a struct with fields `inner` (the client) and `messaging`:
/// `inner()`, `into_inner()`, `messaging()`, and with `mut`, `inner_mut()`. Used inside the
/// wrapper's `impl` block.
///
/// ```
/// use tracewire::messaging::{Messaging, System};
///
/// struct TracedPipe { inner: Vec<u8>, messaging: Messaging }
/// impl TracedPipe {
///     tracewire::wrapper_accessors!(Vec<u8>, mut);
/// }
///
/// let mut pipe = TracedPipe { inner: vec![1], messaging: Messaging::builder(System::new("pipe")).build() };
/// pipe.inner_mut().push(2);
/// assert_eq!(pipe.messaging().system().name(), "pipe");
/// assert_eq!(pipe.into_inner(), vec![1, 2]);
/// ```
#[macro_export]
macro_rules! wrapper_accessors {
    ($client:ty) => {
        /// The client, for everything that needs no tracing.
        pub fn inner(&self) -> &$client {
            &self.inner
        }

        /// The client, unwrapped.
        pub fn into_inner(self) -> $client {
            self.inner
        }

        /// The instrumentation.
        pub fn messaging(&self) -> &$crate::messaging::Messaging {
            &self.messaging
        }
    };
    ($client:ty, mut) => {
        $crate::wrapper_accessors!($client);

        /// The client, mutably (the calls that need `&mut`).
        pub fn inner_mut(&mut self) -> &mut $client {
            &mut self.inner
        }
    };
}

/// The accessors of a traced message — a struct with fields `message` (the client's message)
/// and `span` (its [`OpenSpan`](crate::OpenSpan)): `message()`, `context()`, `in_context(fut)`,
/// `into_parts()`. Used inside the message's `impl` block; its settle methods, named as its
/// client names them, are the broker crate's own.
///
/// ```
/// use tracewire::OpenSpan;
///
/// struct TracedLine { message: String, span: OpenSpan }
/// impl TracedLine {
///     tracewire::message_accessors!(String);
/// }
///
/// let line = TracedLine { message: "hi".into(), span: OpenSpan::new(opentelemetry::Context::new()) };
/// assert_eq!(line.message(), "hi");
/// let (message, span) = line.into_parts();
/// span.end(tracewire::Outcome::Ok);
/// # drop(message);
/// ```
#[macro_export]
macro_rules! message_accessors {
    ($message:ty) => {
        /// The client's message.
        pub fn message(&self) -> &$message {
            &self.message
        }

        /// The message's context: its span, baggage and correlation id.
        pub fn context(&self) -> &$crate::wrapper::__private::Context {
            self.span.context()
        }

        /// Runs `fut` (the handler) in the message's context: its logs and spans join the
        /// producer's trace.
        pub fn in_context<F: ::std::future::Future>(&self, fut: F) -> $crate::Traced<F> {
            self.span.in_context(fut)
        }

        /// The client's message and its span, for handing the work to another task: settle the
        /// message through the client and end the span with [`OpenSpan::end`]($crate::OpenSpan::end)
        /// (dropped, it ends unsettled).
        pub fn into_parts(self) -> ($message, $crate::OpenSpan) {
            (self.message, self.span)
        }
    };
}
