//! Clips cut from a real H.264 stream (x264) by the pre-roll and clip state machines, read back
//! by ffprobe and decoded by ffmpeg. The camera's encoder sends keyframes only when the
//! pre-roll asks for them (x264 places them exactly where the requests were answered).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{assert_decodes_cleanly, ffprobe_json, x264_keyframes_at, FPS};
use securecam_recorder::clip::{Clip, ClipConfig, ClipEnd};
use securecam_recorder::fmp4::OpusTrack;
use securecam_recorder::frame::Frame;
use securecam_recorder::h264::AccessUnit;
use securecam_recorder::preroll::{Preroll, PrerollConfig};
use securecam_recorder::timeline::{Timeline, Track, VIDEO_CLOCK};

/// A 20 ms Opus packet of silence.
const OPUS_SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];
/// Frames between a keyframe request and the keyframe (about 100 ms: round trip + encoder).
const ANSWER_DELAY: u64 = 3;

/// The frames at which a camera that starts with a keyframe and answers every request
/// `ANSWER_DELAY` frames later sends keyframes, when the pre-roll asks.
fn requested_keyframes(frames: u64, config: PrerollConfig) -> Vec<u64> {
    let mut preroll = Preroll::new(config);
    let (mut keyframes, mut asked) = (vec![0], None);
    for n in 0..frames {
        let keyframe = n == 0 || asked.is_some_and(|a| n == a + ANSWER_DELAY);
        if keyframe && n > 0 {
            keyframes.push(n);
        }
        preroll.push(Frame {
            track: Track::Video,
            ticks: n * (VIDEO_CLOCK / FPS) as u64,
            keyframe,
            data: vec![0u8; 1].into(),
            parameter_sets: None,
        });
        if preroll.wants_keyframe() {
            asked = Some(n);
        }
    }
    keyframes
}

/// What arrives from the camera, in arrival order: video frame `n` at n/30 s (RTP clock with a
/// random start), an Opus packet every 20 ms starting 15 ms in.
enum Arrival<'a> {
    Video(u64, &'a AccessUnit),
    Audio(u64),
}

fn arrivals(units: &[AccessUnit]) -> Vec<(Duration, Arrival<'_>)> {
    let mut all: Vec<(Duration, Arrival)> = units
        .iter()
        .enumerate()
        .map(|(n, u)| {
            let at = Duration::from_micros(n as u64 * 1_000_000 / FPS as u64);
            (at, Arrival::Video(n as u64, u))
        })
        .collect();
    let seconds = units.len() as u64 / FPS as u64;
    for k in 0..seconds * 50 {
        all.push((Duration::from_millis(15 + k * 20), Arrival::Audio(k)));
    }
    all.sort_by_key(|(at, _)| *at);
    all
}

/// Turns arrivals into the recorder's frames, the way the recorder's subscriber does.
struct Camera {
    t0: Instant,
    timeline: Timeline,
    params: Option<Arc<securecam_recorder::h264::ParameterSets>>,
}

impl Camera {
    fn new() -> Camera {
        let t0 = Instant::now();
        Camera {
            t0,
            timeline: Timeline::new(t0),
            params: None,
        }
    }

    fn frame(&mut self, at: Duration, arrival: &Arrival) -> Frame {
        let arrived = self.t0 + at;
        match arrival {
            Arrival::Video(n, unit) => {
                if let Some(p) = &unit.parameter_sets {
                    self.params = Some(Arc::new(p.clone()));
                }
                let rtp = 3_000_000_000 + n * 3_000;
                Frame {
                    track: Track::Video,
                    ticks: self.timeline.place(Track::Video, rtp, arrived),
                    keyframe: unit.keyframe,
                    data: unit.sample.clone().into(),
                    parameter_sets: unit.keyframe.then(|| self.params.clone()).flatten(),
                }
            }
            Arrival::Audio(k) => Frame {
                track: Track::Audio,
                ticks: self.timeline.place(Track::Audio, 17 + k * 960, arrived),
                keyframe: true,
                data: OPUS_SILENCE.to_vec().into(),
                parameter_sets: None,
            },
        }
    }

    fn ticks_at(&self, at: Duration) -> u64 {
        self.timeline.ticks_at(self.t0 + at, VIDEO_CLOCK)
    }
}

struct Probed {
    duration: f64,
    first_key_frame: bool,
    key_frames: usize,
    frames: usize,
    codecs: Vec<String>,
}

fn probe(path: &Path) -> Probed {
    let format = ffprobe_json(path, &["-show_streams", "-show_format"]);
    let codecs = format["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap().to_string())
        .collect();
    let frames = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "frame=key_frame",
            "-show_frames",
        ],
    );
    let frames = frames["frames"].as_array().unwrap();
    assert_decodes_cleanly(path);
    Probed {
        duration: format["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        first_key_frame: frames[0]["key_frame"] == 1,
        key_frames: frames.iter().filter(|f| f["key_frame"] == 1).count(),
        frames: frames.len(),
        codecs,
    }
}

#[test]
fn an_event_clip_starts_with_its_pre_roll_and_ends_after_its_post_roll() {
    let preroll_config = PrerollConfig::default(); // 5 s, at most 2 s more
    let clip_config = ClipConfig {
        post_roll: Duration::from_secs(3),
        ..ClipConfig::default()
    };
    let seconds = 16;
    let keyframes = requested_keyframes(seconds * FPS as u64, preroll_config);
    // The camera keyframes only at its start and when asked: every ~1.6 s.
    assert!(keyframes.len() > 5 && keyframes.windows(2).all(|w| w[1] - w[0] <= 60));
    let dir = tempfile::tempdir().unwrap();
    let units = x264_keyframes_at(dir.path(), seconds as u32, &keyframes);

    let (event_start, event_end) = (Duration::from_secs(8), Duration::from_secs(10));
    let mut camera = Camera::new();
    let mut preroll = Preroll::new(preroll_config);
    let mut clip: Option<Clip> = None;
    let mut file = Vec::new();
    let mut asked = Vec::new();
    let mut told_end = false;
    for (at, arrival) in arrivals(&units) {
        let frame = camera.frame(at, &arrival);
        if let (Some(clip), false, true) = (&mut clip, told_end, at >= event_end) {
            clip.event_ended(camera.ticks_at(event_end));
            told_end = true;
        }
        if clip.is_none() && at >= event_start {
            // The event: a clip starts with what the pre-roll holds.
            let mut new = Clip::new(clip_config, Some(OpusTrack { channels: 2 }));
            for held in preroll.frames() {
                file.extend(new.push(held).unwrap());
            }
            clip = Some(new);
        }
        if let Some(clip) = &mut clip {
            file.extend(clip.push(&frame).unwrap());
        }
        preroll.push(frame);
        if let Arrival::Video(n, _) = arrival {
            if preroll.wants_keyframe() {
                asked.push(n);
            }
        }
    }
    let clip = clip.unwrap();
    assert_eq!(clip.ended(), Some(ClipEnd::Complete));
    let answered: Vec<u64> = asked
        .iter()
        .map(|a| a + ANSWER_DELAY)
        .filter(|&k| k < units.len() as u64)
        .collect();
    assert_eq!(
        answered,
        keyframes[1..],
        "the pre-roll asked where the camera keyframed"
    );

    let path = dir.path().join("event.mp4");
    std::fs::write(&path, &file).unwrap();
    let probed = probe(&path);
    assert_eq!(probed.codecs, ["h264", "opus"]);
    assert!(probed.first_key_frame, "a clip starts at a keyframe");
    // Pre-roll + event + post-roll = 10 s, and at most 2 s more.
    assert!(
        (10.0..=12.0).contains(&probed.duration),
        "clip of {} s",
        probed.duration
    );
    assert!((clip.duration().as_secs_f64() - probed.duration).abs() < 0.1);
    assert_eq!(
        probed.frames as f64,
        (clip.duration().as_secs_f64() * FPS as f64).round()
    );
}

#[test]
fn without_pre_roll_a_clip_waits_for_the_next_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    // A camera that was not publishing: its stream reaches the clip mid-GOP.
    let units = x264_keyframes_at(dir.path(), 6, &[0, 45, 100, 150]);
    let mut camera = Camera::new();
    let mut clip = Clip::new(ClipConfig::default(), None);
    let mut file = Vec::new();
    for (at, arrival) in arrivals(&units) {
        let frame = camera.frame(at, &arrival);
        if at < Duration::from_millis(330) {
            continue; // joined at frame 10
        }
        file.extend(clip.push(&frame).unwrap());
        if let Arrival::Video(n, _) = arrival {
            assert_eq!(clip.is_started(), n >= 45, "frame {n}");
        }
    }
    file.extend(clip.finish().unwrap());
    assert_eq!(clip.ended(), Some(ClipEnd::StreamEnded));
    let path = dir.path().join("recording.mp4");
    std::fs::write(&path, &file).unwrap();
    let probed = probe(&path);
    assert_eq!(probed.codecs, ["h264"]);
    assert!(probed.first_key_frame);
    assert_eq!(probed.frames, 180 - 45);
    assert_eq!(probed.key_frames, 3);
    assert!((probed.duration - 4.5).abs() < 0.05, "{}", probed.duration);
}

#[test]
fn a_clip_stops_at_its_maximum_length() {
    let dir = tempfile::tempdir().unwrap();
    let units = x264_keyframes_at(dir.path(), 6, &[0, 60, 120]);
    let mut camera = Camera::new();
    let config = ClipConfig {
        max_length: Duration::from_secs(3),
        ..ClipConfig::default()
    };
    let mut clip = Clip::new(config, Some(OpusTrack { channels: 2 }));
    let mut file = Vec::new();
    for (at, arrival) in arrivals(&units) {
        let frame = camera.frame(at, &arrival);
        file.extend(clip.push(&frame).unwrap());
    }
    assert_eq!(clip.ended(), Some(ClipEnd::MaxLength));
    assert!(clip.finish().unwrap().is_empty(), "nothing after the end");
    let path = dir.path().join("capped.mp4");
    std::fs::write(&path, &file).unwrap();
    let probed = probe(&path);
    assert_eq!(probed.codecs, ["h264", "opus"]);
    assert_eq!(probed.frames, 90);
    assert!((probed.duration - 3.0).abs() < 0.05, "{}", probed.duration);
    assert_eq!(clip.duration(), Duration::from_secs(3));
}
