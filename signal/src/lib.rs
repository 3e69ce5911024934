//! SecureCam's signal service: the HTTP API of `../shared/API.md` and the devices' WebSocket
//! signalling. [`router`] builds the axum router and the OpenAPI document generated from the
//! handlers; the `securecam` binary serves it.
//!
//! Layers, each calling only the ones below it (no module imports one above it):
//! 1. **types** — plain data: [`types`] (the WebSocket protocol, views, bus messages, caller
//!    identity), [`config`], [`media`], [`playback`], [`mail`], the pure parts of [`auth`]
//!    (tokens, passwords, rate limits) and [`commands::payload`].
//! 2. **state and delivery** — [`bus`] (the transport between nodes), [`ws::hub`] (devices
//!    connected here), [`outbox`] (the one owner of delivery to devices, relays and the
//!    recorder), [`state`] (`Core` for the services, `AppState` for the API), [`fanout`],
//!    [`webhooks`].
//! 3. **services** — domain logic with domain errors, calling one way only:
//!    [`commands::store`] and [`commands::delivery`] → [`recording::feed`] → [`streams`] →
//!    [`recording`] → [`commands::send`] and [`events`].
//! 4. **adapters** — [`routes`] (HTTP, the one place that maps errors to statuses, in
//!    [`error`]), [`ws::connection`] (a device's socket), [`inbound`] (what the bus brings),
//!    [`reactions`] (what the relay and the recorder report), [`relay_link`], [`jobs`].

pub mod auth;
pub mod bus;
pub mod commands;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod fanout;
pub mod inbound;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod outbox;
pub mod pagination;
pub mod playback;
pub mod reactions;
pub mod recording;
pub mod relay_link;
pub mod routes;
pub mod state;
pub mod streams;
pub mod types;
pub mod webhooks;
pub mod ws;

pub use config::SignalConfig;
pub use routes::router;
pub use state::{AppState, Core};
