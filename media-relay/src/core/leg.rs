//! One peer of the relay: a camera publishing a stream or a viewer watching one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::media::{MediaKind, Mid};
use str0m::Rtc;
use uuid::Uuid;

use crate::factory::PeerTrack;
use crate::rewrite::Rewriter;
use crate::LegRole;

/// Internal handle of a leg (the public id is the unguessable session URL part).
pub type LegKey = u64;

pub struct Leg {
    pub id: String,
    pub role: LegRole,
    pub stream: Arc<str>,
    /// The device and stream session the media token was issued to.
    pub device: Uuid,
    pub session: Uuid,
    pub rtc: Rtc,
    pub ufrag: String,
    /// The client's ICE ufrag (a PATCH with another one restarts ICE).
    pub remote_ufrag: String,
    /// Remote addresses this leg's traffic came from (routing entries to drop with it).
    pub addrs: Vec<SocketAddr>,
    pub created_at: Instant,
    pub connected: bool,
    /// When str0m next wants time to pass.
    pub timeout: Instant,
    pub tracks: Vec<Track>,
    pub stats: LegStats,
    /// Copies were written to it that str0m has not been given time to send yet.
    pub release_pending: bool,
}

/// A track of a leg; for a viewer, what it is sent and how it is rewritten.
pub struct Track {
    pub mid: Mid,
    pub kind: MediaKind,
    pub pt: str0m::media::Pt,
    pub rewriter: Rewriter,
    /// A viewer's video starts at a keyframe: until one passes, its video is held back.
    pub waiting_keyframe: bool,
}

impl Track {
    pub fn new(track: &PeerTrack) -> Self {
        Track {
            mid: track.mid,
            kind: track.kind,
            pt: track.pt.pt(),
            rewriter: Rewriter::default(),
            waiting_keyframe: track.kind == MediaKind::Video,
        }
    }
}

/// Counters for `/metrics`: ours for packets and bytes, str0m's reports for the rest.
#[derive(Debug, Default, Clone, Copy)]
pub struct LegStats {
    pub packets: u64,
    pub bytes: u64,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    /// Fraction lost, as last reported (receiver reports for a viewer, our own for a publisher).
    pub loss: f32,
    /// Bits per second over the last rate window (received for a publisher, sent for a viewer).
    pub bitrate: u64,
    pub rate_mark: u64,
}

impl Leg {
    pub fn track(&mut self, kind: MediaKind) -> Option<&mut Track> {
        self.tracks.iter_mut().find(|t| t.kind == kind)
    }

    pub fn kind_of_pt(&self, pt: str0m::media::Pt) -> Option<MediaKind> {
        self.tracks.iter().find(|t| t.pt == pt).map(|t| t.kind)
    }

    pub fn kind_of_mid(&self, mid: Mid) -> Option<MediaKind> {
        self.tracks.iter().find(|t| t.mid == mid).map(|t| t.kind)
    }
}
