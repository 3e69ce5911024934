//! SecureCam's recorder: MP4 clips (event clips with pre-roll, on-demand recordings) written as
//! the camera's stream arrives, without transcoding.
//!
//! - [`h264`]: access units re-framed as MP4 samples, and the parameter sets of the stream.
//! - [`fmp4`]: fragmented MP4, written piece by piece so a clip uploads as it grows.
//! - [`timeline`]: audio and video RTP clocks on one timeline with the wall clock.
//! - [`preroll`]: the last seconds of a stream, from a keyframe, and when to ask for one.
//! - [`clip`]: one clip as a state machine: frames in, final MP4 bytes out.
//! - [`camera`]: one camera's pre-roll and clips, sans-IO: frames in, clip bytes out.
//! - [`store`]: clips uploaded as they are written, to local disk or an S3-compatible bucket.
//! - [`recovery`]: after a crash, clips cut to what plays, or failed.
//! - [`retention`]: clips past their age or their owner's quota, and orphans, removed.
//! - [`subscriber`]: the recorder's WHEP leg on str0m (frame mode).
//! - [`service`]: the async driver: a task per camera, a task per clip, rows and reports.

pub mod camera;
pub mod clip;
pub mod fmp4;
pub mod frame;
pub mod h264;
pub mod preroll;
pub mod recovery;
pub mod retention;
pub mod service;
pub mod store;
pub mod subscriber;
pub mod timeline;
