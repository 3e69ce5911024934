//! A WHIP/WHEP client on str0m, for the end-to-end tests and the load tool: a publisher that
//! sends synthetic H.264 (keyframes on request and every two seconds) and Opus, and a viewer
//! that counts what arrives. Each peer has its own UDP socket and task.
//!
//! Synthetic video is RTP-correct (STAP-A SPS/PPS, FU-A fragments, marker on a frame's last
//! packet) but not decodable; every video payload carries the send time so a viewer can tell
//! how long a packet took. Decodable media in the suite comes from aiortc and Chromium.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::{h264, synthetic};

/// The video frame rate and audio packet interval of the synthetic publisher.
const FPS: u32 = 30;
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const GOP: u32 = 60;
const MAX_PAYLOAD: usize = 1100;

#[derive(Debug, Clone, Default)]
pub struct PeerStats {
    pub connected: bool,
    pub disconnected: bool,
    pub video_packets: u64,
    pub audio_packets: u64,
    pub video_bytes: u64,
    /// Packets that began a keyframe (received by a viewer, sent by a publisher).
    pub keyframes: u64,
    /// Keyframe requests (PLI/FIR) a publisher received.
    pub keyframe_requests: u64,
    /// Distinct SSRCs video arrived on (a viewer sees one, whatever the camera did).
    pub video_ssrcs: Vec<u32>,
    /// Whether a viewer's first video packet began a keyframe.
    pub first_video_was_keyframe: Option<bool>,
    /// Microseconds from the publisher's send to this viewer's receive, one per video packet.
    pub latencies_us: Vec<u64>,
    /// Latencies are kept only when asked (the load tool).
    pub keep_latencies: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("{0}")]
    Other(String),
}

/// A running publisher or viewer.
pub struct Peer {
    pub stats: Arc<Mutex<PeerStats>>,
    /// The session URL from `Location`.
    pub location: String,
    pub etag: Option<String>,
    pub link_headers: Vec<String>,
    /// The relay's SDP answer.
    pub answer: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Peer {
    /// The relay's UDP address for this peer (its loopback candidate).
    pub fn relay_udp_addr(&self) -> Option<SocketAddr> {
        self.answer.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (line.starts_with("a=candidate:") && fields.get(4) == Some(&"127.0.0.1"))
                .then(|| format!("127.0.0.1:{}", fields.get(5)?).parse().ok())
                .flatten()
        })
    }

    pub fn stats(&self) -> PeerStats {
        self.stats.lock().unwrap().clone()
    }

    /// Waits until `check` holds for the stats, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, check: impl Fn(&PeerStats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(&self.stats()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check(&self.stats())
    }

    /// Stops sending and receiving without telling the relay (a vanished client).
    pub async fn vanish(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub video_bitrate: u32,
    pub audio: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            video_bitrate: 500_000,
            audio: true,
        }
    }
}

/// Publishes synthetic media over WHIP to `url` (absolute) with `token`.
pub async fn publish(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    options: PublishOptions,
) -> Result<Peer, ClientError> {
    connect(http, url, token, Role::Publish(options), false).await
}

/// Watches over WHEP; `keep_latencies` records each video packet's transit time.
pub async fn watch(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    keep_latencies: bool,
) -> Result<Peer, ClientError> {
    connect(http, url, token, Role::Watch, keep_latencies).await
}

enum Role {
    Publish(PublishOptions),
    Watch,
}

async fn connect(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    role: Role,
    keep_latencies: bool,
) -> Result<Peer, ClientError> {
    let other = |e: &dyn std::fmt::Display| ClientError::Other(e.to_string());
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| other(&e))?;
    let local = socket.local_addr().map_err(|e| other(&e))?;
    let mut rtc = crate::synthetic::peer_config().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| other(&e))?);
    let dir = match role {
        Role::Publish(_) => Direction::SendOnly,
        Role::Watch => Direction::RecvOnly,
    };
    let mut api = rtc.sdp_api();
    let video_mid = api.add_media(MediaKind::Video, dir, None, None, None);
    let audio = !matches!(&role, Role::Publish(o) if !o.audio);
    let audio_mid = audio.then(|| api.add_media(MediaKind::Audio, dir, None, None, None));
    let (offer, pending) = api.apply().ok_or_else(|| other(&"no offer"))?;
    let response = http
        .post(url)
        .header("content-type", "application/sdp")
        .bearer_auth(token)
        .body(offer.to_sdp_string())
        .send()
        .await
        .map_err(|e| other(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.map_err(|e| other(&e))?;
    if status != 201 {
        return Err(ClientError::Status { status, body });
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header("location").ok_or_else(|| other(&"no Location"))?;
    let location = match location.starts_with('/') {
        true => {
            let base = reqwest::Url::parse(url).map_err(|e| other(&e))?;
            base.join(&location).map_err(|e| other(&e))?.to_string()
        }
        false => location,
    };
    let answer_sdp = body.clone();
    // This client serves tests and load tools, which send to 127.0.0.0/8 only: a candidate
    // elsewhere (a relay started without `public_ip = 127.0.0.1`) is never tried.
    let answer =
        SdpAnswer::from_sdp_string(&loopback_candidates_only(&body)).map_err(|e| other(&e))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| other(&e))?;
    let stats = Arc::new(Mutex::new(PeerStats {
        keep_latencies,
        ..PeerStats::default()
    }));
    let (stop, stopped) = oneshot::channel();
    let publish = match role {
        Role::Publish(options) => Some(options),
        Role::Watch => None,
    };
    let run = PeerTask {
        rtc,
        socket,
        local,
        stats: stats.clone(),
        video_mid,
        audio_mid,
        publish,
    };
    let task = tokio::spawn(run.run(stopped));
    Ok(Peer {
        stats,
        location,
        etag: header("etag"),
        link_headers: headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect(),
        answer: answer_sdp,
        stop: Some(stop),
        task: Some(task),
    })
}

struct PeerTask {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    stats: Arc<Mutex<PeerStats>>,
    video_mid: Mid,
    audio_mid: Option<Mid>,
    publish: Option<PublishOptions>,
}

/// The synthetic publisher's counters.
#[derive(Default)]
struct Source {
    frame: u32,
    video_seq: u64,
    audio_seq: u64,
    audio_ts: u32,
    keyframe_owed: bool,
    /// Keyframe requests already answered.
    requests_seen: u64,
}

impl PeerTask {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        let mut buf = vec![0u8; 2048];
        let mut video_tick = tokio::time::interval(Duration::from_secs(1) / FPS);
        let mut audio_tick = tokio::time::interval(AUDIO_INTERVAL);
        let mut source = Source {
            keyframe_owed: true,
            ..Source::default()
        };
        let started = Instant::now();
        while let Some(timeout) = self.drain() {
            let sleep = tokio::time::sleep_until(timeout.max(Instant::now()).into());
            let publishing = self.publish.is_some() && self.stats.lock().unwrap().connected;
            tokio::select! {
                _ = &mut stopped => break,
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((n, source_addr)) = received else { break };
                    let Ok(receive) = Receive::new(Protocol::Udp, source_addr, self.local, &buf[..n]) else {
                        continue;
                    };
                    if self.rtc.handle_input(Input::Receive(Instant::now(), receive)).is_err() {
                        break;
                    }
                }
                _ = sleep => {
                    if self.rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                        break;
                    }
                }
                _ = video_tick.tick(), if publishing => self.send_frame(&mut source, started),
                _ = audio_tick.tick(), if publishing && self.audio_mid.is_some() => self.send_audio(&mut source),
            }
        }
        self.stats.lock().unwrap().disconnected = true;
    }

    /// Polls the peer until it wants time to pass; `None` when it is finished.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            if !self.rtc.is_alive() {
                return None;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => self.on_event(e),
                Err(_) => return None,
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        let mut stats = self.stats.lock().unwrap();
        match event {
            Event::Connected => stats.connected = true,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                stats.disconnected = true;
            }
            Event::KeyframeRequest(_) => stats.keyframe_requests += 1,
            Event::RtpPacket(packet) => {
                let mid = self
                    .rtc
                    .direct_api()
                    .stream_rx(&packet.header.ssrc)
                    .map(|s| s.mid());
                if mid == Some(self.video_mid) {
                    stats.video_packets += 1;
                    stats.video_bytes += packet.payload.len() as u64;
                    let keyframe = h264::starts_keyframe(&packet.payload);
                    if keyframe {
                        stats.keyframes += 1;
                    }
                    stats.first_video_was_keyframe.get_or_insert(keyframe);
                    let ssrc = *packet.header.ssrc;
                    if !stats.video_ssrcs.contains(&ssrc) {
                        stats.video_ssrcs.push(ssrc);
                    }
                    if stats.keep_latencies {
                        if let Some(sent) = sent_at(&packet.payload) {
                            stats.latencies_us.push(now_micros().saturating_sub(sent));
                        }
                    }
                } else if mid.is_some() && mid == self.audio_mid {
                    stats.audio_packets += 1;
                }
            }
            _ => {}
        }
    }

    fn send_frame(&mut self, source: &mut Source, started: Instant) {
        let Some(options) = self.publish.clone() else {
            return;
        };
        let requests = self.stats.lock().unwrap().keyframe_requests;
        let asked = requests > source.requests_seen;
        source.requests_seen = requests;
        let keyframe = source.keyframe_owed || source.frame % GOP == 0 || asked;
        source.keyframe_owed = false;
        let frame_bytes = (options.video_bitrate / 8 / FPS) as usize;
        let ts = (started.elapsed().as_micros() as u64 * 90 / 1000) as u32;
        let packets = synthetic::frame(
            keyframe,
            frame_bytes,
            MAX_PAYLOAD,
            &now_micros().to_be_bytes(),
        );
        if keyframe {
            self.stats.lock().unwrap().keyframes += 1;
        }
        let now = Instant::now();
        let pt = self.pt(Codec::H264);
        let mut direct = self.rtc.direct_api();
        let Some(tx) = direct.stream_tx_by_mid(self.video_mid, None) else {
            return;
        };
        synthetic::write_frame(tx, pt, &mut source.video_seq, ts, now, packets);
        source.frame += 1;
        // str0m's pacer sees written packets when time passes: send them now.
        let _ = self.rtc.handle_input(Input::Timeout(now));
    }

    fn send_audio(&mut self, source: &mut Source) {
        let Some(mid) = self.audio_mid else {
            return;
        };
        let pt = self.pt(Codec::Opus);
        let now = Instant::now();
        let mut direct = self.rtc.direct_api();
        let Some(tx) = direct.stream_tx_by_mid(mid, None) else {
            return;
        };
        source.audio_seq += 1;
        source.audio_ts = source.audio_ts.wrapping_add(960);
        tx.write_rtp(RtpWrite::new(
            pt,
            source.audio_seq.into(),
            source.audio_ts,
            now,
            vec![0xfc; 80],
        ));
        let _ = self.rtc.handle_input(Input::Timeout(now));
    }

    fn pt(&self, codec: Codec) -> str0m::media::Pt {
        self.rtc
            .codec_config()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
            .unwrap_or(0.into())
    }
}

/// `sdp` without its `a=candidate` lines whose address is not a loopback one.
fn loopback_candidates_only(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|line| {
            let Some(candidate) = line.strip_prefix("a=candidate:") else {
                return true;
            };
            candidate
                .split_whitespace()
                .nth(4)
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| ip.is_loopback())
        })
        .collect()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The send time a synthetic FU-A payload carries after its two header bytes.
fn sent_at(payload: &[u8]) -> Option<u64> {
    if payload.first()? & 0x1f != 28 {
        return None;
    }
    let bytes: [u8; 8] = payload.get(2..10)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}
