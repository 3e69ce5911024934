//! Clips made by the recorder, read back with ffprobe and decoded with ffmpeg: fragmented MP4
//! writing, whole clips with pre-roll, and crash recovery. One test binary, a module each.

mod clip_ffprobe;
mod common;
mod fmp4_ffprobe;
mod recovery;
