//! Reading clips back with the tools a user has: ffprobe describes them, ffmpeg decodes them.
//! Both must be on PATH (`./scripts/test` installs Debian's ffmpeg when they are missing).
//! Shared by the recorder's own tests (through `#[path]`) and the end-to-end tests.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub fn run(command: &mut Command) -> Vec<u8> {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} did not start (install ffmpeg): {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub fn ffprobe_json(path: &Path, args: &[&str]) -> serde_json::Value {
    let mut command = Command::new("ffprobe");
    command
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path);
    serde_json::from_slice(&run(&mut command)).unwrap()
}

/// ffmpeg decodes the whole file and has nothing to complain about.
pub fn assert_decodes_cleanly(path: &Path) {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-xerror", "-i"])
        .arg(path)
        // Frames keep the stream's own 90 kHz time base: a browser's camera is variable frame
        // rate, and rounded to the nominal rate (ffmpeg's default) two frames 16 ms apart
        // land on one tick, which the null muxer reports as an error of its own.
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "ffmpeg could not decode {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
