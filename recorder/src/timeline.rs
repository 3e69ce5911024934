//! One clock for a camera's stream. RTP gives each track its own clock with a random start;
//! a clip needs audio and video on one timeline that also says where "now" (an event) falls.
//! Each track is anchored at its first packet: the arrival time of that packet (on the stream's
//! timeline) plus how far the RTP clock has moved since. RTP steps keep the spacing exact;
//! arrival anchors line the tracks up to within the network's jitter.

use std::time::{Duration, Instant};

/// The clock rates WebRTC uses for H.264 and Opus.
pub const VIDEO_CLOCK: u32 = 90_000;
pub const AUDIO_CLOCK: u32 = 48_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Video,
    Audio,
}

impl Track {
    pub fn clock(self) -> u32 {
        match self {
            Track::Video => VIDEO_CLOCK,
            Track::Audio => AUDIO_CLOCK,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    rtp: u64,
    /// The anchor packet's place on the timeline, in the track's clock.
    ticks: u64,
}

/// Maps (RTP time, arrival) of each track onto ticks of a shared timeline whose zero is the
/// arrival of the stream's first packet.
#[derive(Debug, Clone)]
pub struct Timeline {
    origin: Instant,
    video: Option<Anchor>,
    audio: Option<Anchor>,
}

impl Timeline {
    pub fn new(origin: Instant) -> Self {
        Timeline {
            origin,
            video: None,
            audio: None,
        }
    }

    /// The place on the timeline of a packet with extended RTP time `rtp` that arrived at
    /// `arrival`, in `track`'s clock. RTP time going backwards (a restarted encoder) re-anchors.
    pub fn place(&mut self, track: Track, rtp: u64, arrival: Instant) -> u64 {
        let here = self.ticks_at(arrival, track.clock());
        let anchor = match track {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        };
        match anchor {
            Some(a) if rtp >= a.rtp => a.ticks + (rtp - a.rtp),
            _ => {
                *anchor = Some(Anchor { rtp, ticks: here });
                here
            }
        }
    }

    /// `at` on the timeline, in ticks of `clock` (zero for anything before the origin).
    pub fn ticks_at(&self, at: Instant, clock: u32) -> u64 {
        to_ticks(at.saturating_duration_since(self.origin), clock)
    }
}

pub fn to_ticks(d: Duration, clock: u32) -> u64 {
    (d.as_nanos() * clock as u128 / 1_000_000_000) as u64
}

pub fn to_duration(ticks: u64, clock: u32) -> Duration {
    Duration::from_nanos((ticks as u128 * 1_000_000_000 / clock as u128) as u64)
}

/// `ticks` of one clock in another.
pub fn convert(ticks: u64, from: u32, to: u32) -> u64 {
    (ticks as u128 * to as u128 / from as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_share_a_timeline_and_keep_rtp_spacing() {
        let t0 = Instant::now();
        let mut timeline = Timeline::new(t0);
        // Video's first packet arrives 100 ms in; audio's at 120 ms.
        let v0 = timeline.place(Track::Video, 1_000_000, t0 + Duration::from_millis(100));
        assert_eq!(v0, 9_000);
        let a0 = timeline.place(Track::Audio, 77, t0 + Duration::from_millis(120));
        assert_eq!(a0, 5_760);
        // Later packets follow their RTP clocks exactly, whatever their arrival jitter.
        let v1 = timeline.place(Track::Video, 1_003_000, t0 + Duration::from_millis(180));
        assert_eq!(v1, 12_000);
        let a1 = timeline.place(Track::Audio, 77 + 960, t0 + Duration::from_millis(125));
        assert_eq!(a1, 5_760 + 960);
        assert_eq!(
            timeline.ticks_at(t0 + Duration::from_secs(1), VIDEO_CLOCK),
            90_000
        );
        assert_eq!(convert(90_000, VIDEO_CLOCK, AUDIO_CLOCK), 48_000);
        assert_eq!(to_duration(45_000, VIDEO_CLOCK), Duration::from_millis(500));
    }

    #[test]
    fn an_encoder_restart_reanchors_its_track() {
        let t0 = Instant::now();
        let mut timeline = Timeline::new(t0);
        timeline.place(Track::Video, 500_000, t0);
        let after = timeline.place(Track::Video, 10, t0 + Duration::from_secs(2));
        assert_eq!(
            after, 180_000,
            "placed by its arrival, not by a huge negative step"
        );
        assert_eq!(
            timeline.place(Track::Video, 3_010, t0 + Duration::from_secs(2)),
            183_000
        );
    }
}
