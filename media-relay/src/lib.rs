//! SecureCam's WebRTC SFU: cameras publish over WHIP, viewers watch over WHEP.
//! Built on str0m in a later issue; the `relay` component of `securecam serve` has no work yet.
