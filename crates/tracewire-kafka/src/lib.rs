//! tracewire-kafka
