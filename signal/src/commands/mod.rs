//! Durable commands to devices (`../shared/API.md`, Commands): [`payload`] checks what may be
//! sent, [`store`] stores it and announces it, [`send`] is a client's way in (validation and
//! what a command sets off), [`delivery`] hands it to the device's connection, retries
//! unacknowledged dispatches and expires what ran out of time.

pub mod delivery;
pub mod payload;
pub mod send;
pub mod store;
