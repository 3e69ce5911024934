//! Durable commands to devices (`../shared/API.md`, Commands): [`payload`] checks what may be
//! sent, [`service`] stores it and announces it, [`delivery`] hands it to the device's
//! connection, retries unacknowledged dispatches and expires what ran out of time.

pub mod delivery;
pub mod payload;
pub mod service;
