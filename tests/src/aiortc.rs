//! Peers from a WebRTC stack this project did not write: aiortc (PyPI), driven through
//! `interop/aiortc_peer.py`. The Python comes from `SECURECAM_TEST_PYTHON` (`./scripts/test`
//! makes a virtualenv with aiortc and sets it), else `python3`, which must then have aiortc.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

pub fn python() -> String {
    std::env::var("SECURECAM_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Starts `aiortc_peer.py <mode> <url> <token> <seconds>` (see the script for the modes).
pub fn aiortc_peer(mode: &str, url: &str, token: &str, seconds: u32) -> tokio::process::Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/aiortc_peer.py");
    Command::new(python())
        .args([script, mode, url, token, &seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the aiortc peer (is SECURECAM_TEST_PYTHON set, or aiortc installed?)")
}

/// Waits for the peer to finish; the JSON line it printed.
pub async fn report(child: tokio::process::Child) -> Value {
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the aiortc peer finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "aiortc peer failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("aiortc peer output {stdout:?}: {e}"))
}
