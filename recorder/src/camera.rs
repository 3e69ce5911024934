//! Everything the recorder does with one camera's stream, sans-IO: depacketized frames in (with
//! their RTP time and arrival), clip bytes and clip ends out. It keeps the pre-roll, runs the
//! camera's clips (event clips start from the pre-roll, on-demand recordings at the next
//! keyframe, clips asked for before the camera publishes at its first keyframe), says when to
//! ask the camera for a keyframe, and ends clips whose stream stalled. Time comes in as `now`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;

use crate::clip::{Clip, ClipConfig, ClipEnd};
use crate::fmp4::OpusTrack;
use crate::frame::Frame;
use crate::h264::{access_unit, ParameterSets};
use crate::preroll::{Preroll, PrerollConfig};
use crate::timeline::{Timeline, Track, VIDEO_CLOCK};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraConfig {
    pub preroll: PrerollConfig,
    /// Event clips: post-roll after the event ends, capped at `max_length`.
    pub event_clip: ClipConfig,
    /// On-demand recordings: no post-roll; they end when stopped or at their `max_length`.
    pub on_demand: ClipConfig,
    /// How long a clip waits for the camera's first keyframe before it is given up.
    pub start_timeout: Duration,
    /// A clip whose stop time passed this long ago (by the wall clock) while no frame came to
    /// close it is closed anyway: the stream stalled.
    pub stall_grace: Duration,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            preroll: PrerollConfig::default(),
            event_clip: ClipConfig::default(),
            on_demand: ClipConfig {
                post_roll: Duration::ZERO,
                max_length: Duration::from_secs(3600),
                ..ClipConfig::default()
            },
            start_timeout: Duration::from_secs(30),
            stall_grace: Duration::from_secs(2),
        }
    }
}

/// What a clip is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipKind {
    /// An event: starts with the pre-roll, ends a post-roll after the event.
    Event,
    /// A recording started by hand: starts at the next keyframe, ends when stopped.
    OnDemand,
}

/// A depacketized frame from the camera.
#[derive(Debug, Clone)]
pub struct MediaIn {
    pub track: Track,
    /// Extended RTP time, in the track's clock.
    pub rtp: u64,
    pub arrival: Instant,
    /// Annex B access unit (video) or one Opus packet (audio).
    pub data: Bytes,
    /// False when packets were lost since the previous frame of the track.
    pub contiguous: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The clip's next bytes, final, in order.
    Bytes { clip: Uuid, bytes: Bytes },
    /// The clip is complete; no more bytes will come.
    Ended {
        clip: Uuid,
        end: ClipEnd,
        duration: Duration,
    },
    /// The clip never got a keyframe (the camera did not publish in time): nothing was written.
    NeverStarted { clip: Uuid },
    /// Writing the clip failed (the MP4 writer refused a frame); it is closed.
    Failed { clip: Uuid, error: String },
}

#[derive(Debug)]
struct Active {
    id: Uuid,
    kind: ClipKind,
    /// Created at the clip's first keyframe (when the stream's audio is known).
    clip: Option<Clip>,
    asked_at: Instant,
    /// When its event ended or it was stopped (wall clock): applied once the clip exists.
    stop: Option<(Instant, bool)>,
    /// Writing failed; removed after the frame that failed it.
    failed: bool,
}

/// Counters for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CameraStats {
    pub video_frames: u64,
    pub audio_frames: u64,
    /// Video frames dropped: unreadable, or after a loss until the next keyframe.
    pub dropped_frames: u64,
    pub keyframes: u64,
    pub keyframe_requests: u64,
}

#[derive(Debug)]
pub struct CameraRecorder {
    config: CameraConfig,
    timeline: Option<Timeline>,
    preroll: Preroll,
    audio_seen: bool,
    /// The newest parameter sets: a keyframe without in-band SPS/PPS uses them.
    parameter_sets: Option<Arc<ParameterSets>>,
    /// After a loss, video waits for a keyframe (what follows a gap does not decode).
    video_broken: bool,
    keyframe_owed: bool,
    /// Wall-clock arrival of the newest frame (the core's clock).
    last_arrival: Option<Instant>,
    /// Arrival of the newest video frame clips took, to tell a stalled stream (audio alone,
    /// or video dropped while broken, closes no clip).
    last_video_arrival: Option<Instant>,
    /// When a keyframe was last asked for after a loss (repeated until one comes).
    last_keyframe_ask: Option<Instant>,
    clips: Vec<Active>,
    outputs: VecDeque<Output>,
    stats: CameraStats,
}

impl CameraRecorder {
    pub fn new(config: CameraConfig) -> Self {
        CameraRecorder {
            config,
            timeline: None,
            preroll: Preroll::new(config.preroll),
            audio_seen: false,
            parameter_sets: None,
            video_broken: false,
            keyframe_owed: false,
            last_arrival: None,
            last_video_arrival: None,
            last_keyframe_ask: None,
            clips: Vec::new(),
            outputs: VecDeque::new(),
            stats: CameraStats::default(),
        }
    }

    pub fn stats(&self) -> CameraStats {
        self.stats
    }

    /// How much stream the pre-roll holds now.
    pub fn preroll_duration(&self) -> Duration {
        self.preroll.duration()
    }

    /// Clips running or waiting for their first keyframe.
    pub fn clip_count(&self) -> usize {
        self.clips.len()
    }

    pub fn has_clip(&self, id: Uuid) -> bool {
        self.clips.iter().any(|c| c.id == id)
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Whether to send the camera a keyframe request (PLI) now.
    pub fn wants_keyframe(&mut self) -> bool {
        let owed = std::mem::take(&mut self.keyframe_owed);
        if owed {
            self.last_keyframe_ask = self.last_arrival;
        }
        let wanted = owed || self.preroll.wants_keyframe();
        if wanted {
            self.stats.keyframe_requests += 1;
        }
        wanted
    }

    /// Starts a clip. An event clip starts with the pre-roll when there is one; otherwise a
    /// clip starts at the stream's next keyframe, which is asked for at once.
    pub fn start_clip(&mut self, id: Uuid, kind: ClipKind, now: Instant) {
        if self.has_clip(id) {
            return;
        }
        let mut active = Active {
            id,
            kind,
            clip: None,
            asked_at: now,
            stop: None,
            failed: false,
        };
        if kind == ClipKind::Event && self.preroll.frames().next().is_some() {
            let mut clip = Clip::new(self.config.event_clip, self.audio_track());
            for frame in self.preroll.frames() {
                match clip.push(frame) {
                    Ok(bytes) => emit_bytes(&mut self.outputs, id, bytes),
                    Err(err) => {
                        self.outputs.push_back(Output::Failed {
                            clip: id,
                            error: err.to_string(),
                        });
                        return;
                    }
                }
            }
            active.clip = Some(clip);
        } else {
            self.keyframe_owed = true;
        }
        self.clips.push(active);
    }

    /// The clip's event ended: it stops a post-roll from now (or from its start, should it
    /// start later than that).
    pub fn end_event(&mut self, id: Uuid, now: Instant) {
        self.set_stop(id, now, true);
    }

    /// Stops a clip now, with no post-roll.
    pub fn stop_clip(&mut self, id: Uuid, now: Instant) {
        self.set_stop(id, now, false);
    }

    fn set_stop(&mut self, id: Uuid, now: Instant, post_roll: bool) {
        let Some(index) = self.clips.iter().position(|c| c.id == id) else {
            return;
        };
        self.clips[index].stop = Some((now, post_roll));
        self.apply_stop(index);
    }

    /// Hands a started clip its stop time on the timeline.
    fn apply_stop(&mut self, index: usize) {
        let timeline = self.timeline.as_ref();
        let active = &mut self.clips[index];
        let (Some((at, post_roll)), Some(clip), Some(timeline)) =
            (active.stop, active.clip.as_mut(), timeline)
        else {
            return;
        };
        let at = timeline.ticks_at(at, VIDEO_CLOCK);
        if post_roll {
            clip.event_ended(at);
        } else {
            clip.stop(at);
        }
    }

    /// The camera's next frame.
    pub fn push(&mut self, media: MediaIn) {
        let timeline = self
            .timeline
            .get_or_insert_with(|| Timeline::new(media.arrival));
        let ticks = timeline.place(media.track, media.rtp, media.arrival);
        self.last_arrival = Some(media.arrival);
        // Broken video asks for a keyframe again and again until one comes: a lost request
        // must not leave the stream undecodable.
        let retry = self.config.preroll.request_retry;
        if self.video_broken
            && self
                .last_keyframe_ask
                .is_none_or(|asked| media.arrival.saturating_duration_since(asked) >= retry)
        {
            self.keyframe_owed = true;
        }
        let frame = match media.track {
            Track::Audio => {
                self.stats.audio_frames += 1;
                self.audio_seen = true;
                Frame {
                    track: Track::Audio,
                    ticks,
                    keyframe: true,
                    data: media.data,
                    parameter_sets: None,
                }
            }
            Track::Video => match self.video_frame(ticks, &media) {
                Some(frame) => frame,
                None => {
                    self.stats.dropped_frames += 1;
                    return;
                }
            },
        };
        if frame.track == Track::Video {
            self.last_video_arrival = Some(media.arrival);
        }
        let started_here = frame.is_video_keyframe();
        let audio = self.audio_track();
        for index in 0..self.clips.len() {
            let active = &mut self.clips[index];
            if active.failed {
                continue;
            }
            if active.clip.is_none() {
                if !started_here {
                    continue;
                }
                let config = match active.kind {
                    ClipKind::Event => self.config.event_clip,
                    ClipKind::OnDemand => self.config.on_demand,
                };
                active.clip = Some(Clip::new(config, audio));
            }
            let clip = active.clip.as_mut().expect("created above");
            let first = !clip.is_started();
            let result = clip.push(&frame);
            if first && clip.is_started() {
                // A clip whose event ended before it could start still gets its post-roll.
                if let Some((at, post_roll)) = active.stop {
                    active.stop = Some((at.max(media.arrival), post_roll));
                }
                self.apply_stop(index);
            }
            let active = &mut self.clips[index];
            match result {
                Ok(bytes) => emit_bytes(&mut self.outputs, active.id, bytes),
                Err(err) => {
                    self.outputs.push_back(Output::Failed {
                        clip: active.id,
                        error: err.to_string(),
                    });
                    active.failed = true;
                }
            }
        }
        self.clips.retain(|active| !active.failed);
        self.collect_ended();
        self.preroll.push(frame);
    }

    fn video_frame(&mut self, ticks: u64, media: &MediaIn) -> Option<Frame> {
        self.stats.video_frames += 1;
        if !media.contiguous {
            self.video_broken = true;
            self.keyframe_owed = true;
        }
        let unit = access_unit(&media.data).ok()?;
        if let Some(sets) = unit.parameter_sets {
            if self.parameter_sets.as_deref() != Some(&sets) {
                self.parameter_sets = Some(Arc::new(sets));
            }
        }
        if unit.keyframe {
            self.stats.keyframes += 1;
            self.video_broken = false;
        } else if self.video_broken {
            return None;
        }
        let parameter_sets = match unit.keyframe {
            // A keyframe with no parameter sets known yet cannot start anything.
            true => Some(self.parameter_sets.clone()?),
            false => None,
        };
        Some(Frame {
            track: Track::Video,
            ticks,
            keyframe: unit.keyframe,
            data: Bytes::from(unit.sample),
            parameter_sets,
        })
    }

    /// Time passes: clips that waited too long for a keyframe are given up; clips whose stop
    /// passed while the stream stalled are closed.
    pub fn tick(&mut self, now: Instant) {
        let timeout = self.config.start_timeout;
        let mut index = 0;
        while index < self.clips.len() {
            let active = &self.clips[index];
            let unstarted = active.clip.as_ref().is_none_or(|c| !c.is_started());
            if unstarted && now.saturating_duration_since(active.asked_at) >= timeout {
                let id = active.id;
                self.clips.remove(index);
                self.outputs.push_back(Output::NeverStarted { clip: id });
                continue;
            }
            index += 1;
        }
        let stalled = self
            .last_video_arrival
            .is_none_or(|last| now.saturating_duration_since(last) >= self.config.stall_grace);
        if stalled {
            let grace = self.config.stall_grace;
            let post_roll = self.config.event_clip.post_roll;
            for active in &mut self.clips {
                let Some((at, with_post_roll)) = active.stop else {
                    continue;
                };
                let stop = if with_post_roll { at + post_roll } else { at };
                if now >= stop + grace {
                    close_started(active, &mut self.outputs);
                }
            }
            self.collect_ended();
        }
    }

    /// The stream ended: started clips close with what they have; clips that have not
    /// started wait for the camera to come back (until their start timeout).
    pub fn stream_ended(&mut self) {
        for active in &mut self.clips {
            close_started(active, &mut self.outputs);
        }
        self.collect_ended();
        // A new stream has its own clocks and keyframes.
        self.timeline = None;
        self.preroll = Preroll::new(self.config.preroll);
        self.video_broken = false;
        self.last_arrival = None;
        self.last_video_arrival = None;
        self.last_keyframe_ask = None;
    }

    /// Closes every clip (the recorder shuts down).
    pub fn close_all(&mut self) {
        self.stream_ended();
        for active in self.clips.drain(..) {
            self.outputs
                .push_back(Output::NeverStarted { clip: active.id });
        }
    }

    fn audio_track(&self) -> Option<OpusTrack> {
        // WebRTC's Opus is always signalled as two channels.
        self.audio_seen.then_some(OpusTrack { channels: 2 })
    }

    fn collect_ended(&mut self) {
        let outputs = &mut self.outputs;
        self.clips.retain(|active| {
            if active.failed {
                return false;
            }
            let Some(clip) = &active.clip else {
                return true;
            };
            match clip.ended() {
                Some(end) => {
                    // A clip that ended before it started wrote nothing.
                    if clip.duration().is_zero() && !clip.is_started() {
                        outputs.push_back(Output::NeverStarted { clip: active.id });
                    } else {
                        outputs.push_back(Output::Ended {
                            clip: active.id,
                            end,
                            duration: clip.duration(),
                        });
                    }
                    false
                }
                None => true,
            }
        });
    }
}

/// Closes a clip that has started with what it holds (one that has not is left waiting).
fn close_started(active: &mut Active, outputs: &mut VecDeque<Output>) {
    let Some(clip) = active.clip.as_mut().filter(|c| c.is_started()) else {
        return;
    };
    match clip.finish() {
        Ok(bytes) => emit_bytes(outputs, active.id, bytes),
        Err(err) => {
            outputs.push_back(Output::Failed {
                clip: active.id,
                error: err.to_string(),
            });
            active.failed = true;
        }
    }
}

fn emit_bytes(outputs: &mut VecDeque<Output>, clip: Uuid, bytes: Vec<u8>) {
    if !bytes.is_empty() {
        outputs.push_back(Output::Bytes {
            clip,
            bytes: Bytes::from(bytes),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::tests::{PPS, SPS_320X240};

    const FRAME: Duration = Duration::from_micros(33_333);

    /// A simulated camera whose encoder makes a keyframe only when asked (answering after
    /// `answer_delay`), at 30 fps, with Opus every 20 ms.
    struct Camera {
        t0: Instant,
        now: Instant,
        video_rtp: u64,
        audio_rtp: u64,
        next_audio: Instant,
        keyframe_due: Option<Instant>,
        answer_delay: Duration,
        keyframes_sent: u32,
    }

    impl Camera {
        fn new() -> Self {
            let t0 = Instant::now();
            Camera {
                t0,
                now: t0,
                video_rtp: 1_000_000,
                audio_rtp: 5_000,
                next_audio: t0,
                keyframe_due: None,
                answer_delay: Duration::from_millis(150),
                keyframes_sent: 0,
            }
        }

        fn at(&self, seconds: f64) -> Instant {
            self.t0 + Duration::from_secs_f64(seconds)
        }

        /// Runs the camera into `core` until `until`, answering its keyframe requests.
        fn run(&mut self, core: &mut CameraRecorder, until: Instant) {
            while self.now < until {
                while self.next_audio <= self.now {
                    core.push(MediaIn {
                        track: Track::Audio,
                        rtp: self.audio_rtp,
                        arrival: self.next_audio,
                        data: Bytes::from_static(&[0xfc, 0xff, 0xfe]),
                        contiguous: true,
                    });
                    self.audio_rtp += 960;
                    self.next_audio += Duration::from_millis(20);
                }
                let keyframe = self.keyframe_due.is_some_and(|due| due <= self.now);
                if keyframe {
                    self.keyframe_due = None;
                    self.keyframes_sent += 1;
                }
                core.push(MediaIn {
                    track: Track::Video,
                    rtp: self.video_rtp,
                    arrival: self.now,
                    data: access_unit_bytes(keyframe),
                    contiguous: true,
                });
                if core.wants_keyframe() && self.keyframe_due.is_none() {
                    self.keyframe_due = Some(self.now + self.answer_delay);
                }
                core.tick(self.now);
                self.video_rtp += 3_000;
                self.now += FRAME;
            }
        }
    }

    fn access_unit_bytes(keyframe: bool) -> Bytes {
        let start = [0u8, 0, 0, 1];
        let mut unit = Vec::new();
        if keyframe {
            for nal in [SPS_320X240, PPS, &[0x65, 0x88, 0x84, 0x21][..]] {
                unit.extend_from_slice(&start);
                unit.extend_from_slice(nal);
            }
        } else {
            unit.extend_from_slice(&start);
            unit.extend_from_slice(&[0x41, 0x9a, 0x02, 0x03]);
        }
        Bytes::from(unit)
    }

    /// Drains the outputs: bytes per clip, and how each ended.
    fn collect(core: &mut CameraRecorder) -> (HashMapBytes, Vec<Output>) {
        let mut bytes = HashMapBytes::new();
        let mut ends = Vec::new();
        while let Some(output) = core.poll_output() {
            match output {
                Output::Bytes { clip, bytes: b } => bytes.entry(clip).or_default().extend(&b[..]),
                other => ends.push(other),
            }
        }
        (bytes, ends)
    }

    type HashMapBytes = std::collections::HashMap<Uuid, Vec<u8>>;

    fn ended(ends: &[Output], id: Uuid) -> Option<(ClipEnd, Duration)> {
        ends.iter().find_map(|o| match o {
            Output::Ended {
                clip,
                end,
                duration,
            } if *clip == id => Some((*end, *duration)),
            _ => None,
        })
    }

    #[test]
    fn an_event_clip_holds_preroll_event_and_post_roll_with_keyframes_only_on_request() {
        let mut core = CameraRecorder::new(CameraConfig::default());
        let mut camera = Camera::new();
        camera.run(&mut core, camera.at(12.0));
        assert!(
            (5.0..=7.0).contains(&core.preroll_duration().as_secs_f64()),
            "pre-roll {:?}",
            core.preroll_duration()
        );
        let clip = Uuid::now_v7();
        core.start_clip(clip, ClipKind::Event, camera.now);
        camera.run(&mut core, camera.at(14.0));
        core.end_event(clip, camera.now);
        camera.run(&mut core, camera.at(30.0));
        let (bytes, ends) = collect(&mut core);
        let (end, duration) = ended(&ends, clip).expect("the clip ended");
        assert_eq!(end, ClipEnd::Complete);
        let expected = 5.0 + 2.0 + 10.0;
        assert!(
            (expected..=expected + 2.0).contains(&duration.as_secs_f64()),
            "{duration:?}"
        );
        assert_eq!(&bytes[&clip][4..8], b"ftyp");
        // Keyframes came only on request, yet never further apart than 2 s.
        let stats = core.stats();
        assert_eq!(stats.keyframes, camera.keyframes_sent as u64);
        assert!(camera.keyframes_sent as f64 <= 30.0 / 1.4, "{stats:?}");
        assert_eq!(core.clip_count(), 0);
    }

    #[test]
    fn a_clip_asked_for_before_the_camera_publishes_starts_at_its_first_keyframe() {
        let mut core = CameraRecorder::new(CameraConfig::default());
        let mut camera = Camera::new();
        let clip = Uuid::now_v7();
        core.start_clip(clip, ClipKind::Event, camera.t0);
        // The event is over before the camera's stream even starts: the clip still gets its
        // post-roll from its first keyframe.
        core.end_event(clip, camera.t0);
        camera.run(&mut core, camera.at(20.0));
        let (bytes, ends) = collect(&mut core);
        let (_, duration) = ended(&ends, clip).expect("the clip ended");
        assert!(
            (10.0..=10.5).contains(&duration.as_secs_f64()),
            "{duration:?}"
        );
        assert!(!bytes[&clip].is_empty());
    }

    #[test]
    fn a_clip_the_camera_never_starts_is_given_up() {
        let mut core = CameraRecorder::new(CameraConfig::default());
        let t0 = Instant::now();
        let clip = Uuid::now_v7();
        core.start_clip(clip, ClipKind::OnDemand, t0);
        core.tick(t0 + Duration::from_secs(29));
        assert!(core.poll_output().is_none());
        core.tick(t0 + Duration::from_secs(30));
        assert_eq!(core.poll_output(), Some(Output::NeverStarted { clip }));
        assert_eq!(core.clip_count(), 0);
    }

    #[test]
    fn after_a_loss_video_waits_for_a_keyframe_and_asks_for_one() {
        let mut core = CameraRecorder::new(CameraConfig::default());
        let mut camera = Camera::new();
        camera.run(&mut core, camera.at(3.0));
        let dropped = core.stats().dropped_frames;
        while core.wants_keyframe() {}
        core.push(MediaIn {
            track: Track::Video,
            rtp: camera.video_rtp,
            arrival: camera.now,
            data: access_unit_bytes(false),
            contiguous: false,
        });
        assert_eq!(core.stats().dropped_frames, dropped + 1);
        assert!(core.wants_keyframe(), "a keyframe is asked for at once");
        core.push(MediaIn {
            track: Track::Video,
            rtp: camera.video_rtp + 3_000,
            arrival: camera.now + FRAME,
            data: access_unit_bytes(false),
            contiguous: true,
        });
        assert_eq!(core.stats().dropped_frames, dropped + 2, "still broken");
        assert!(!core.wants_keyframe(), "asked 33 ms ago");
        // The request got lost: half a second later it is asked again.
        core.push(MediaIn {
            track: Track::Audio,
            rtp: camera.audio_rtp,
            arrival: camera.now + Duration::from_millis(520),
            data: Bytes::from_static(&[0xfc, 0xff, 0xfe]),
            contiguous: true,
        });
        assert!(core.wants_keyframe(), "asked again while still broken");
        core.push(MediaIn {
            track: Track::Video,
            rtp: camera.video_rtp + 54_000,
            arrival: camera.now + Duration::from_millis(600),
            data: access_unit_bytes(true),
            contiguous: true,
        });
        assert_eq!(core.stats().dropped_frames, dropped + 2, "mended");
    }

    #[test]
    fn a_stream_that_stalls_after_the_stop_still_closes_the_clip() {
        let mut core = CameraRecorder::new(CameraConfig::default());
        let mut camera = Camera::new();
        camera.run(&mut core, camera.at(8.0));
        let clip = Uuid::now_v7();
        core.start_clip(clip, ClipKind::OnDemand, camera.now);
        camera.run(&mut core, camera.at(10.0));
        core.stop_clip(clip, camera.at(12.0));
        // No frame comes after 10 s: the clip closes once its stop is 2 s behind.
        core.tick(camera.at(13.9));
        assert!(ended(&collect(&mut core).1, clip).is_none());
        core.tick(camera.at(14.0));
        let (_, ends) = collect(&mut core);
        let (end, duration) = ended(&ends, clip).expect("closed");
        assert_eq!(end, ClipEnd::StreamEnded);
        // From the keyframe asked for at 8 s (answered 150 ms later) to the last frame.
        assert!(
            (1.7..=1.9).contains(&duration.as_secs_f64()),
            "{duration:?}"
        );
    }
}
