//! SecureCam's WebRTC SFU: cameras publish over WHIP (RFC 9725), viewers watch over WHEP.
//!
//! - [`core`]: the relay as a sans-IO state machine over str0m (`Rtc` per peer, RTP mode).
//! - [`driver`]: the tokio task that owns the one UDP socket and the clock.
//! - [`http`]: the WHIP/WHEP endpoints.
//! - [`token`]: the media tokens signal issues and the relay checks without a database.

#[cfg(feature = "client")]
pub mod client;
pub mod core;
pub mod delay;
pub mod driver;
pub mod factory;
pub mod h264;
pub mod http;
pub mod metrics;
pub mod offer;
pub mod rewrite;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod stun;
pub mod synthetic;
pub mod token;

/// What a leg does: a camera publishing (WHIP) or a viewer watching (WHEP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegRole {
    Publisher,
    Viewer,
}
