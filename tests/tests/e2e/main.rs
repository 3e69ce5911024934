//! SecureCam end to end: one test binary (linking the whole workspace once, not once per
//! file), one module per resource or story; every story runs on SQLite and on PostgreSQL
//! (`both_backends!`), so a test's name says its story and its backend, e.g.
//! `streams::two_viewers::postgres`. `cargo test -p securecam-tests -- recordings::` runs one
//! module.

mod auth;
mod browser;
mod commands;
mod connections;
mod devices;
mod events;
mod https;
mod interop_aiortc;
mod links;
mod media;
mod notifications;
mod notifier;
mod ops;
mod owner_isolation;
mod pairing;
mod recordings;
mod relay_nodes;
mod rights;
mod streams;
mod web_app;
mod websocket;
