//! The bottom layer of signal: plain data with no I/O and no state. What devices and clients
//! receive (the WebSocket protocol, views of rows), what nodes tell each other over the bus,
//! and who is calling. Everything above may use these; they use nothing above them.

pub mod bus;
pub mod identity;
pub mod links;
pub mod protocol;
pub mod text;
pub mod views;
