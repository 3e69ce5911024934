//! A stream: one camera's publisher leg and the viewer legs watching it.

use std::time::Instant;

use super::leg::LegKey;

#[derive(Default)]
pub struct Stream {
    pub publisher: Option<LegKey>,
    pub viewers: Vec<LegKey>,
    /// Since when the stream has had no publisher (it waits a grace period for the camera to
    /// come back before it closes).
    pub away_since: Option<Instant>,
    /// A keyframe is owed to someone (a new viewer, a viewer's PLI, a new publisher); requests
    /// are coalesced and sent at most once per interval.
    pub keyframe_wanted: bool,
    pub last_keyframe_request: Option<Instant>,
    pub stats: StreamStats,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct StreamStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub keyframe_requests: u64,
    /// The camera's bitrate over the last rate window, bits per second.
    pub bitrate_in: u64,
    /// Bytes in at the start of the current rate window.
    pub rate_mark: u64,
}
