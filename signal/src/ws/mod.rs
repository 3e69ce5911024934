//! WebSocket signalling (`GET /api/v1/ws`): one live connection per device.
//!
//! [`hub::Hub`] knows which device is connected where and hands messages to connections
//! through bounded queues; [`connection`] is the thin async driver of one socket;
//! `crate::types::protocol` is the JSON message set and [`flood::FloodGuard`] the
//! per-connection rate limit, both plain code with no I/O.

pub mod connection;
pub mod flood;
pub mod hub;

pub use hub::Hub;
