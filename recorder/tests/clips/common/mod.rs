//! Real media for the recorder's tests: H.264 from x264 (through ffmpeg), read back with
//! ffprobe. Both must be on PATH (`./scripts/test` installs them).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

use bytes::Bytes;
use securecam_recorder::camera::{CameraConfig, CameraRecorder, ClipKind, MediaIn, Output};
use securecam_recorder::h264::{self, AccessUnit, NAL_AUD};
use securecam_recorder::store::ClipUpload;
use securecam_recorder::timeline::Track;
use uuid::Uuid;

// The ffprobe/ffmpeg checks are shared with the end-to-end tests (one file, no extra crate).
#[path = "../../../../tests/src/probe.rs"]
mod probe;
pub use probe::*;

pub const FPS: u32 = 30;

/// `seconds` of 320×240 constrained-baseline H.264 from x264 at 30 fps, a keyframe every `gop`
/// frames, as access units (x264 puts a delimiter before each).
pub fn x264_access_units(dir: &Path, seconds: u32, gop: u32) -> Vec<AccessUnit> {
    x264_access_units_keyed(dir, seconds, &["-g", &gop.to_string()])
}

/// As [`x264_access_units`], with keyframes exactly at the frames numbered in `keyframes`
/// (an encoder that sends them only when asked).
pub fn x264_keyframes_at(dir: &Path, seconds: u32, keyframes: &[u64]) -> Vec<AccessUnit> {
    let times: Vec<String> = keyframes
        .iter()
        .map(|n| format!("{:.6}", *n as f64 / FPS as f64))
        .collect();
    let units = x264_access_units_keyed(
        dir,
        seconds,
        &[
            "-g",
            "100000",
            "-sc_threshold",
            "0",
            "-force_key_frames",
            &times.join(","),
        ],
    );
    let got: Vec<u64> = (0..units.len() as u64)
        .filter(|&n| units[n as usize].keyframe)
        .collect();
    assert_eq!(got, keyframes, "x264 placed the keyframes as asked");
    units
}

/// As [`x264_access_units`], with `keys` the ffmpeg options that place keyframes.
pub fn x264_access_units_keyed(dir: &Path, seconds: u32, keys: &[&str]) -> Vec<AccessUnit> {
    let path = dir.join("camera.h264");
    run(Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc=size=320x240:rate={FPS}"),
            "-t",
            &seconds.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-bf",
            "0",
            "-x264-params",
            "aud=1",
        ])
        .args(keys)
        .args(["-f", "h264", path.to_str().unwrap()]));
    let stream = std::fs::read(&path).unwrap();
    // Cut the byte stream before each access unit delimiter.
    let mut cuts: Vec<usize> = stream
        .windows(5)
        .enumerate()
        .filter(|(_, w)| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == NAL_AUD)
        .map(|(i, _)| i)
        .collect();
    cuts.push(stream.len());
    cuts.windows(2)
        .map(|w| h264::access_unit(&stream[w[0]..w[1]]).unwrap())
        .collect()
}

/// An access unit back in Annex B, as the subscriber hands it over.
pub fn annex_b(unit: &AccessUnit) -> Bytes {
    let mut out = Vec::with_capacity(unit.sample.len());
    let mut rest = &unit.sample[..];
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    Bytes::from(out)
}

/// Records the first `seconds` of `units` into `upload` (a keyframe every second, so a
/// fragment a second); returns the upload still open, as a crash would find it.
pub async fn record(units: &[AccessUnit], seconds: u32, upload: &mut ClipUpload) {
    let mut core = CameraRecorder::new(CameraConfig::default());
    let clip = Uuid::now_v7();
    let t0 = Instant::now();
    core.start_clip(clip, ClipKind::OnDemand, t0);
    for (n, unit) in units.iter().take((seconds * FPS) as usize).enumerate() {
        core.push(MediaIn {
            track: Track::Video,
            rtp: 10_000 + n as u64 * 3_000,
            arrival: t0 + Duration::from_micros(n as u64 * 1_000_000 / FPS as u64),
            data: annex_b(unit),
            contiguous: true,
        });
        while let Some(output) = core.poll_output() {
            if let Output::Bytes { bytes, .. } = output {
                upload.write(bytes).await.unwrap();
            }
        }
    }
    upload.settle().await.unwrap();
}
