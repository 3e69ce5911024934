//! SecureCam's WebRTC SFU: cameras publish over WHIP, viewers watch over WHEP.
//! The SFU itself (str0m) comes with the relay issue; what exists now is the media token the
//! relay will accept, which signal already issues.

pub mod token;
