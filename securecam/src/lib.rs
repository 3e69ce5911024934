//! The SecureCam server as a library: settings, start-up of the chosen components, shutdown.
//! `main.rs` is only the command line; tests build an [`Application`] directly.

pub mod app;
pub mod components;
pub mod database;
pub mod keys;
pub mod serve;
pub mod settings;
pub mod telemetry;
pub mod tls;
pub mod web;

pub use app::Application;
pub use components::Component;
pub use settings::Settings;
