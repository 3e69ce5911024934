//! SQL both backends share, expanded into each backend by macros: written once, compiled
//! against each database's own pool and connection types.

pub mod commands;
pub mod deliveries;
pub mod devices;
pub mod events;
pub mod notifications;
pub mod recordings;
pub mod relays;
pub mod streams;
