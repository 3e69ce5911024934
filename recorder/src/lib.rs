//! SecureCam's recorder: MP4 clips (event clips with pre-roll, on-demand recordings) written as
//! the camera's stream arrives, without transcoding.
//!
//! - [`h264`]: access units re-framed as MP4 samples, and the parameter sets of the stream.
//! - [`fmp4`]: fragmented MP4, written piece by piece so a clip uploads as it grows.

pub mod fmp4;
pub mod h264;
