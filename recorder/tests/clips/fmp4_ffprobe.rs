//! The fragmented MP4 writer against tools this project did not write: x264 (through ffmpeg)
//! makes a real H.264 stream, the writer muxes it with Opus packets, and ffprobe / ffmpeg read
//! the file back. ffmpeg and ffprobe must be on PATH (`./scripts/test` installs them).

use std::path::Path;

use crate::common::{assert_decodes_cleanly, ffprobe_json, x264_access_units, FPS};

use securecam_recorder::fmp4::{Fmp4Writer, OpusTrack, Sample, AUDIO_TIMESCALE, VIDEO_TIMESCALE};
use securecam_recorder::h264::AccessUnit;

/// A 20 ms Opus packet of silence (CELT, fullband): what a muted WebRTC microphone sends.
const OPUS_SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];

/// Muxes `units` (and 50 Opus packets a second alongside) one fragment per GOP.
fn write_clip(path: &Path, units: &[AccessUnit], with_audio: bool) {
    let params = units[0]
        .parameter_sets
        .clone()
        .expect("x264 starts with SPS/PPS");
    let audio = with_audio.then_some(OpusTrack { channels: 2 });
    let (mut writer, mut file) = Fmp4Writer::start(&params, audio).unwrap();
    let frame = VIDEO_TIMESCALE / FPS;
    let audio_frame = AUDIO_TIMESCALE / 50;
    let mut gop: Vec<Sample> = Vec::new();
    let mut audio_time = 0u64;
    let mut flush = |gop: &mut Vec<Sample>, file: &mut Vec<u8>, audio_time: &mut u64| {
        let end = gop.last().map_or(0, |s| s.decode_time + s.duration as u64);
        // The audio that plays during these frames.
        let mut audio = Vec::new();
        while *audio_time * u64::from(VIDEO_TIMESCALE) / u64::from(AUDIO_TIMESCALE) < end {
            audio.push(Sample {
                decode_time: *audio_time,
                duration: audio_frame,
                keyframe: true,
                data: OPUS_SILENCE.to_vec().into(),
            });
            *audio_time += audio_frame as u64;
        }
        file.extend(writer.fragment(gop, &audio).unwrap());
        gop.clear();
    };
    for (i, unit) in units.iter().enumerate() {
        if unit.keyframe && !gop.is_empty() {
            flush(&mut gop, &mut file, &mut audio_time);
        }
        gop.push(Sample {
            decode_time: i as u64 * frame as u64,
            duration: frame,
            keyframe: unit.keyframe,
            data: unit.sample.clone().into(),
        });
    }
    flush(&mut gop, &mut file, &mut audio_time);
    file.extend(writer.finish().unwrap());
    std::fs::write(path, file).unwrap();
}

#[test]
fn ffprobe_reads_h264_and_opus_from_the_fragmented_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let units = x264_access_units(dir.path(), 4, 30);
    assert_eq!(units.len(), 120);
    assert_eq!(units.iter().filter(|u| u.keyframe).count(), 4);
    let clip = dir.path().join("clip.mp4");
    write_clip(&clip, &units, true);

    let probe = ffprobe_json(&clip, &["-show_streams", "-show_format"]);
    let streams = probe["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["profile"], "Constrained Baseline");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(audio["codec_name"], "opus");
    assert_eq!(audio["sample_rate"], "48000");
    assert_eq!(audio["channels"], 2);
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3.9..=4.1).contains(&duration), "duration {duration}");

    // Every frame is there, in order, and the first is a keyframe.
    let frames = ffprobe_json(
        &clip,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "frame=key_frame,pts_time",
            "-show_frames",
        ],
    );
    let frames = frames["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 120);
    assert_eq!(frames[0]["key_frame"], 1);
    assert_eq!(frames.iter().filter(|f| f["key_frame"] == 1).count(), 4);

    // And the whole file decodes without a complaint.
    assert_decodes_cleanly(&clip);
}

#[test]
fn a_clip_without_audio_has_one_track() {
    let dir = tempfile::tempdir().unwrap();
    let units = x264_access_units(dir.path(), 2, 15);
    let clip = dir.path().join("video-only.mp4");
    write_clip(&clip, &units, false);
    let probe = ffprobe_json(&clip, &["-count_frames", "-show_streams", "-show_format"]);
    let streams = probe["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["codec_name"], "h264");
    assert_eq!(streams[0]["nb_read_frames"], "60");
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1.9..=2.1).contains(&duration), "duration {duration}");
}
