//! Running the real `securecam` binary from tests: a clean environment, a server that is
//! killed if a test fails, and the URL it logs at start-up.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn securecam(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_securecam"));
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    // A test must not inherit the developer's settings.
    for (key, _) in std::env::vars() {
        if key.starts_with("SECURECAM_") {
            command.env_remove(key);
        }
    }
    // Tests send traffic to 127.0.0.0/8 only: the relay offers no other candidate, and HTTPS
    // listens on loopback (on a port of its own, never the default 8443).
    command.env("SECURECAM_RELAY__PUBLIC_IP", "127.0.0.1");
    command.env("SECURECAM_HTTPS_ADDR", "127.0.0.1:0");
    command
}

/// A running server; killed if a test fails before stopping it, so no process outlives a test.
pub struct Server(pub Child);

impl Server {
    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(self) {
        sigterm(&self.0);
        self.wait_clean_exit();
    }

    pub fn wait_clean_exit(mut self) {
        let status = self.0.wait().unwrap();
        assert!(status.success(), "SIGTERM is a clean exit: {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` and `extra_env` and waits for its "open <url>" line;
/// returns the server, the URL, every log line so far and the rest to come.
pub fn serve_with(
    dir: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> (Server, String, Vec<String>, mpsc::Receiver<String>) {
    let mut command = securecam(dir);
    command
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("securecam starts");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("server logs its URL");
        lines.push(line.clone());
        if let Some((_, url)) = line.split_once("SecureCam is running: open ") {
            let url = url.split_whitespace().next().unwrap().to_string();
            return (server, url, lines, rx);
        }
    }
}

pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
