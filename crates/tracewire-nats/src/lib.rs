//! tracewire-nats
