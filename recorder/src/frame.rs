//! A frame of a camera's stream as the recorder keeps it: ready to become an MP4 sample.

use std::sync::Arc;

use bytes::Bytes;

use crate::h264::ParameterSets;
use crate::timeline::Track;

#[derive(Debug, Clone)]
pub struct Frame {
    pub track: Track,
    /// Place on the stream's timeline, in the track's clock (see [`crate::timeline`]).
    pub ticks: u64,
    /// A video frame a decoder can start at (audio frames always are).
    pub keyframe: bool,
    /// The MP4 sample: length-prefixed NAL units for video, one Opus packet for audio. Shared
    /// by the pre-roll buffer and every clip that holds the frame.
    pub data: Bytes,
    /// On video keyframes: the stream's parameter sets (a clip's init segment needs them).
    pub parameter_sets: Option<Arc<ParameterSets>>,
}

impl Frame {
    pub fn is_video_keyframe(&self) -> bool {
        self.track == Track::Video && self.keyframe
    }
}
