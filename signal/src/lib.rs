//! SecureCam's signal service: the HTTP API of `../shared/API.md` (accounts, devices, audit
//! so far) and, in later issues, WebSocket signalling.
//!
//! [`router`] builds the axum router and the OpenAPI document generated from the handlers;
//! the `securecam` binary serves it.

pub mod auth;
pub mod bus;
pub mod commands;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod fanout;
pub mod mail;
pub mod media;
pub mod pagination;
pub mod playback;
pub mod recording;
pub mod relay_link;
pub mod routes;
pub mod state;
pub mod streams;
pub mod webhooks;
pub mod ws;

pub use config::SignalConfig;
pub use routes::router;
pub use state::AppState;
