//! One clip being written: frames in, MP4 bytes out, as they become final. A clip starts at a
//! video keyframe (the first one it is given: the pre-roll's, or the stream's next one), cuts
//! a fragment at every keyframe or after `fragment` of video, and ends `post_roll` after its
//! event ended, at `max_length`, or when the stream does. Sans-IO: the caller uploads the
//! bytes and keeps the row.

use std::time::Duration;

use crate::fmp4::{Fmp4Writer, Mp4Error, OpusTrack, Sample};
use crate::frame::Frame;
use crate::timeline::{convert, to_duration, to_ticks, Track, AUDIO_CLOCK, VIDEO_CLOCK};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipConfig {
    /// How long a clip goes on after its event ended.
    pub post_roll: Duration,
    /// The longest clip (an event that never ends, a forgotten recording).
    pub max_length: Duration,
    /// Fragments are cut at each keyframe and at least this often, so an upload never lags
    /// the stream by more (and a crash loses no more).
    pub fragment: Duration,
}

impl Default for ClipConfig {
    fn default() -> Self {
        ClipConfig {
            post_roll: Duration::from_secs(10),
            max_length: Duration::from_secs(300),
            fragment: Duration::from_secs(1),
        }
    }
}

/// Why a clip ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipEnd {
    /// Its event ended and the post-roll passed (or a recording was stopped).
    Complete,
    /// It reached `max_length`.
    MaxLength,
    /// The stream ended under it.
    StreamEnded,
}

#[derive(Debug)]
struct Started {
    writer: Fmp4Writer,
    /// Timeline ticks (video clock) of the first keyframe: the clip's zero.
    start: u64,
    /// Timeline ticks at which `max_length` is reached.
    max_end: u64,
    video: Vec<Sample>,
    audio: Vec<Sample>,
    /// The newest frame of each track waits for the next one: its duration is the gap.
    held_video: Option<Frame>,
    held_audio: Option<Frame>,
    last_video_duration: u32,
    last_audio_duration: u32,
    /// End of the newest video sample written or pending, in clip ticks (video clock).
    video_end: u64,
}

#[derive(Debug)]
pub struct Clip {
    config: ClipConfig,
    audio: Option<OpusTrack>,
    started: Option<Started>,
    /// Timeline ticks (video clock) at which its event or recording says it stops.
    stop_at: Option<u64>,
    ended: Option<ClipEnd>,
    /// The length of a closed clip, in video ticks.
    final_duration: u64,
}

impl Clip {
    /// A clip that starts at the first video keyframe pushed; `audio` when the stream has an
    /// Opus track.
    pub fn new(config: ClipConfig, audio: Option<OpusTrack>) -> Clip {
        Clip {
            config,
            audio,
            started: None,
            stop_at: None,
            ended: None,
            final_duration: 0,
        }
    }

    pub fn is_started(&self) -> bool {
        self.started.is_some()
    }

    /// Why the clip ended, once it has: no more bytes will come.
    pub fn ended(&self) -> Option<ClipEnd> {
        self.ended
    }

    /// Length of the video written or pending so far.
    pub fn duration(&self) -> Duration {
        let ticks = self
            .started
            .as_ref()
            .map_or(self.final_duration, |s| s.video_end);
        to_duration(ticks, VIDEO_CLOCK)
    }

    /// The event ended at `at` (timeline ticks, video clock): the clip stops `post_roll` later.
    /// A recording stopped by hand passes a zero post-roll through `stop_at`.
    pub fn event_ended(&mut self, at: u64) {
        self.stop(at + to_ticks(self.config.post_roll, VIDEO_CLOCK));
    }

    /// Stops the clip at timeline ticks `at` (the earliest of all stops wins).
    pub fn stop(&mut self, at: u64) {
        self.stop_at = Some(self.stop_at.map_or(at, |s| s.min(at)));
    }

    /// The stream's next frame; returns the bytes that became final (possibly none).
    pub fn push(&mut self, frame: &Frame) -> Result<Vec<u8>, Mp4Error> {
        if self.ended.is_some() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        if self.started.is_none() {
            let Some(params) = frame
                .parameter_sets
                .as_ref()
                .filter(|_| frame.is_video_keyframe())
            else {
                return Ok(out);
            };
            let (writer, init) = Fmp4Writer::start(params, self.audio)?;
            out.extend(init);
            self.started = Some(Started {
                writer,
                start: frame.ticks,
                max_end: frame.ticks + to_ticks(self.config.max_length, VIDEO_CLOCK),
                video: Vec::new(),
                audio: Vec::new(),
                held_video: None,
                held_audio: None,
                last_video_duration: VIDEO_CLOCK / 30,
                last_audio_duration: AUDIO_CLOCK / 50,
                video_end: 0,
            });
        }
        let started = self.started.as_mut().expect("started above");
        match frame.track {
            Track::Video => {
                let stop = self
                    .stop_at
                    .map_or(started.max_end, |s| s.min(started.max_end));
                if frame.ticks >= stop {
                    let reason = if frame.ticks >= started.max_end {
                        ClipEnd::MaxLength
                    } else {
                        ClipEnd::Complete
                    };
                    out.extend(self.close(Some(frame.ticks), reason)?);
                    return Ok(out);
                }
                // Cut a fragment before a keyframe, or when the pending one is long enough.
                let pending = started.video_end.saturating_sub(
                    started
                        .video
                        .first()
                        .map_or(started.video_end, |s| s.decode_time),
                );
                if !started.video.is_empty()
                    && (frame.keyframe || pending >= to_ticks(self.config.fragment, VIDEO_CLOCK))
                {
                    // The held frame ends where this one starts: it belongs to the fragment.
                    started.release_video(frame.ticks);
                    out.extend(started.flush()?);
                }
                started.release_video(frame.ticks);
                started.held_video = Some(frame.clone());
            }
            Track::Audio => {
                let start = convert(started.start, VIDEO_CLOCK, AUDIO_CLOCK);
                if frame.ticks < start {
                    return Ok(out);
                }
                if let Some(held) = started.held_audio.take() {
                    let duration = frame.ticks.saturating_sub(held.ticks) as u32;
                    started.last_audio_duration = duration.max(1);
                    started.audio.push(sample(&held, start, duration.max(1)));
                }
                started.held_audio = Some(frame.clone());
            }
        }
        Ok(out)
    }

    /// The stream ended (or the recorder stops): writes what is held and closes the file.
    pub fn finish(&mut self) -> Result<Vec<u8>, Mp4Error> {
        if self.ended.is_some() || self.started.is_none() {
            self.ended.get_or_insert(ClipEnd::StreamEnded);
            return Ok(Vec::new());
        }
        self.close(None, ClipEnd::StreamEnded)
    }

    fn close(&mut self, next_video: Option<u64>, reason: ClipEnd) -> Result<Vec<u8>, Mp4Error> {
        self.ended = Some(reason);
        let Some(mut started) = self.started.take() else {
            return Ok(Vec::new());
        };
        let end = next_video.or_else(|| {
            started
                .held_video
                .as_ref()
                .map(|f| f.ticks + started.last_video_duration as u64)
        });
        if let Some(end) = end {
            started.release_video(end);
        }
        // Audio up to the end of the video.
        let audio_start = convert(started.start, VIDEO_CLOCK, AUDIO_CLOCK);
        if let Some(held) = started.held_audio.take() {
            let duration = started.last_audio_duration;
            started.audio.push(sample(&held, audio_start, duration));
        }
        let video_end_audio = convert(started.video_end, VIDEO_CLOCK, AUDIO_CLOCK);
        started.audio.retain(|s| s.decode_time < video_end_audio);
        let mut out = started.flush()?;
        let duration = started.video_end;
        out.extend(started.writer.finish()?);
        self.final_duration = duration;
        Ok(out)
    }
}

impl Started {
    /// Moves the held video frame into the pending fragment, ending at `next` (timeline ticks).
    fn release_video(&mut self, next: u64) {
        let Some(held) = self.held_video.take() else {
            return;
        };
        let duration = next.saturating_sub(held.ticks) as u32;
        let duration = if duration == 0 {
            self.last_video_duration
        } else {
            duration
        };
        self.last_video_duration = duration;
        let sample = sample(&held, self.start, duration);
        self.video_end = sample.decode_time + duration as u64;
        self.video.push(sample);
    }

    /// Writes the pending samples as one fragment.
    fn flush(&mut self) -> Result<Vec<u8>, Mp4Error> {
        if self.video.is_empty() && self.audio.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = self.writer.fragment(&self.video, &self.audio)?;
        self.video.clear();
        self.audio.clear();
        Ok(bytes)
    }
}

/// A frame as a sample of a clip that started at `start` (ticks of the frame's clock).
fn sample(frame: &Frame, start: u64, duration: u32) -> Sample {
    Sample {
        decode_time: frame.ticks.saturating_sub(start),
        duration,
        keyframe: frame.keyframe,
        data: frame.data.clone(),
    }
}
