//! The pre-roll: the last seconds of a camera's stream, kept while it publishes so that an
//! event's clip can start before the event. It always begins at a video keyframe (a clip must
//! start where a decoder can), so it holds between `length` and `length` + one keyframe
//! interval. WebRTC encoders send keyframes only when asked, so the buffer also says when to
//! ask: often enough that the keyframe interval, and so the pre-roll's excess, stays within
//! `max_excess`.

use std::collections::VecDeque;
use std::time::Duration;

use crate::frame::Frame;
use crate::timeline::{to_ticks, Track, VIDEO_CLOCK};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrerollConfig {
    /// How much of the stream before an event a clip shows (at least).
    pub length: Duration,
    /// How much more than `length` a clip may start with.
    pub max_excess: Duration,
    /// Time a keyframe request takes to produce a keyframe (round trip and encoder): requests
    /// go out this much before the keyframe interval would exceed `max_excess`.
    pub request_lead: Duration,
    /// Unanswered requests are repeated after this long.
    pub request_retry: Duration,
}

impl Default for PrerollConfig {
    fn default() -> Self {
        PrerollConfig {
            length: Duration::from_secs(5),
            max_excess: Duration::from_secs(2),
            request_lead: Duration::from_millis(500),
            request_retry: Duration::from_millis(500),
        }
    }
}

#[derive(Debug)]
pub struct Preroll {
    config: PrerollConfig,
    frames: VecDeque<Frame>,
    /// Timeline ticks of the video keyframes in `frames`, oldest first.
    keyframes: VecDeque<u64>,
    bytes: usize,
    newest_video: Option<u64>,
    last_keyframe: Option<u64>,
    last_request: Option<u64>,
}

impl Preroll {
    pub fn new(config: PrerollConfig) -> Self {
        Preroll {
            config,
            frames: VecDeque::new(),
            keyframes: VecDeque::new(),
            bytes: 0,
            newest_video: None,
            last_keyframe: None,
            last_request: None,
        }
    }

    pub fn config(&self) -> &PrerollConfig {
        &self.config
    }

    /// Adds the stream's next frame and forgets what no clip can need any more.
    pub fn push(&mut self, frame: Frame) {
        if frame.track == Track::Video {
            self.newest_video = Some(frame.ticks);
            if frame.keyframe {
                self.last_keyframe = Some(frame.ticks);
                self.keyframes.push_back(frame.ticks);
            }
        }
        // Nothing before the first keyframe is of use.
        if self.keyframes.is_empty() {
            return;
        }
        self.bytes += frame.data.len();
        self.frames.push_back(frame);
        self.trim();
    }

    /// Drops everything before the newest keyframe that still leaves `length` of pre-roll.
    fn trim(&mut self) {
        let Some(newest) = self.newest_video else {
            return;
        };
        let cutoff = newest.saturating_sub(to_ticks(self.config.length, VIDEO_CLOCK));
        while self.keyframes.len() >= 2 && self.keyframes[1] <= cutoff {
            self.keyframes.pop_front();
            let start = self.keyframes[0];
            while let Some(front) = self.frames.front() {
                if front.is_video_keyframe() && front.ticks == start {
                    break;
                }
                let front = self.frames.pop_front().expect("front exists");
                self.bytes -= front.data.len();
            }
        }
    }

    /// The pre-roll, oldest first: a video keyframe, then everything since.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        self.frames.iter()
    }

    /// How much of the stream the pre-roll holds (from its keyframe to the newest video frame).
    pub fn duration(&self) -> Duration {
        match (self.keyframes.front(), self.newest_video) {
            (Some(&first), Some(newest)) => {
                crate::timeline::to_duration(newest.saturating_sub(first), VIDEO_CLOCK)
            }
            _ => Duration::ZERO,
        }
    }

    /// Bytes of media held (the frames are shared with clips, not copied).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether to ask the camera for a keyframe now: when the last one is old enough that
    /// waiting longer would let the pre-roll's excess grow past `max_excess`, or there has
    /// been none. Records the request; repeats it every `request_retry` until a keyframe comes.
    pub fn wants_keyframe(&mut self) -> bool {
        let Some(newest) = self.newest_video else {
            return false;
        };
        let interval = self
            .config
            .max_excess
            .saturating_sub(self.config.request_lead);
        let due = match self.last_keyframe {
            None => true,
            Some(key) => newest.saturating_sub(key) >= to_ticks(interval, VIDEO_CLOCK),
        };
        if !due {
            return false;
        }
        let retry = to_ticks(self.config.request_retry, VIDEO_CLOCK);
        let answered = self
            .last_request
            .is_some_and(|asked| self.last_keyframe.is_some_and(|key| key >= asked));
        if let Some(asked) = self.last_request {
            if !answered && newest < asked + retry {
                return false;
            }
        }
        self.last_request = Some(newest);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: u64 = 3_000; // 30 fps at 90 kHz

    fn video(n: u64, keyframe: bool) -> Frame {
        Frame {
            track: Track::Video,
            ticks: n * FRAME,
            keyframe,
            data: vec![0u8; 100].into(),
            parameter_sets: None,
        }
    }

    fn audio(n: u64) -> Frame {
        Frame {
            track: Track::Audio,
            ticks: n * 960,
            keyframe: true,
            data: vec![0u8; 10].into(),
            parameter_sets: None,
        }
    }

    #[test]
    fn holds_from_the_last_keyframe_that_leaves_the_full_length() {
        let mut preroll = Preroll::new(PrerollConfig::default());
        // A delta frame before any keyframe is useless.
        preroll.push(video(0, false));
        assert_eq!(preroll.frames().count(), 0);
        // Keyframes every 60 frames (2 s), 10 s of stream with audio.
        for n in 1..=300 {
            preroll.push(video(n, n % 60 == 1));
            preroll.push(audio(n * 3_000 / 1_800));
        }
        let first = preroll.frames().next().unwrap();
        assert!(first.is_video_keyframe());
        // Newest frame 300; 5 s before it is frame 150; the keyframe at or before is 121.
        assert_eq!(first.ticks, 121 * FRAME);
        let held = preroll.duration();
        assert!(
            held >= Duration::from_secs(5) && held <= Duration::from_secs(7),
            "{held:?}"
        );
        assert_eq!(
            preroll.bytes(),
            preroll.frames().map(|f| f.data.len()).sum::<usize>()
        );
    }

    #[test]
    fn asks_for_keyframes_often_enough_and_not_more() {
        let mut preroll = Preroll::new(PrerollConfig::default());
        preroll.push(video(0, false));
        assert!(preroll.wants_keyframe(), "no keyframe yet");
        assert!(!preroll.wants_keyframe(), "asked just now");
        // Unanswered: asked again after request_retry (15 frames).
        for n in 1..15 {
            preroll.push(video(n, false));
            assert!(!preroll.wants_keyframe(), "frame {n}");
        }
        preroll.push(video(15, false));
        assert!(preroll.wants_keyframe());
        // A keyframe comes; the next request is due 1.5 s (45 frames) later.
        preroll.push(video(16, true));
        let (mut asked_at, mut keyframes) = (Vec::new(), vec![16]);
        for n in 17..=200 {
            // The camera answers each request with a keyframe three frames later.
            let answer = asked_at.last().is_some_and(|&a| n == a + 3);
            if answer {
                keyframes.push(n);
            }
            preroll.push(video(n, answer));
            if preroll.wants_keyframe() {
                asked_at.push(n);
            }
        }
        assert_eq!(asked_at, vec![61, 109, 157]);
        // So keyframes never lie more than max_excess (60 frames) apart.
        assert_eq!(keyframes, vec![16, 64, 112, 160]);
        assert!(keyframes.windows(2).all(|w| w[1] - w[0] <= 60));
    }
}
