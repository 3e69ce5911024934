//! The recorder's way into a live stream: a WHEP client on str0m in frame mode, so str0m
//! reorders and depacketizes (H.264 access units in Annex B, Opus packets) and the recorder
//! sees whole frames. It works the same whether the relay runs in this process or on another
//! machine. One UDP socket per subscription; the caller's task drives it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::camera::MediaIn;
use crate::timeline::Track;

#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("the relay answered HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("{0}")]
    Other(String),
}

/// A leg whose ICE stays disconnected this long is given up.
const DISCONNECTED_GIVE_UP: std::time::Duration = std::time::Duration::from_secs(10);

fn other(e: impl std::fmt::Display) -> SubscribeError {
    SubscribeError::Other(e.to_string())
}

/// One WHEP viewer leg owned by the recorder.
pub struct Subscription {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    video_mid: Mid,
    audio_mid: Mid,
    /// The session URL from `Location`, for the DELETE at the end.
    location: String,
    dead: bool,
    /// ICE lost the relay at this time; it may come back (consent can recover).
    disconnected_since: Option<Instant>,
}

impl Subscription {
    /// Offers to watch at `endpoint` (absolute WHEP URL) with a subscribe `token`.
    pub async fn connect(
        http: &reqwest::Client,
        endpoint: &str,
        token: &str,
    ) -> Result<Subscription, SubscribeError> {
        let url = reqwest::Url::parse(endpoint).map_err(other)?;
        let ip = local_ip_towards(&url).await;
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(other)?;
        let local = socket.local_addr().map_err(other)?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(other)?);
        let mut api = rtc.sdp_api();
        let video_mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let audio_mid = api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| other("no offer"))?;
        let response = http
            .post(url.clone())
            .header("content-type", "application/sdp")
            .bearer_auth(token)
            .body(offer.to_sdp_string())
            .send()
            .await
            .map_err(other)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.map_err(other)?;
        if status != 201 {
            return Err(SubscribeError::Refused { status, body });
        }
        let location = location.ok_or_else(|| other("the answer has no Location"))?;
        let location = url.join(&location).map_err(other)?.to_string();
        let answer = SdpAnswer::from_sdp_string(&body).map_err(other)?;
        rtc.sdp_api()
            .accept_answer(pending, answer)
            .map_err(other)?;
        Ok(Subscription {
            rtc,
            socket,
            local,
            video_mid,
            audio_mid,
            location,
            dead: false,
            disconnected_since: None,
        })
    }

    /// The leg is over (ICE lost the relay for good, or str0m failed).
    pub fn is_dead(&self) -> bool {
        self.dead
            || !self.rtc.is_alive()
            || self
                .disconnected_since
                .is_some_and(|at| at.elapsed() >= DISCONNECTED_GIVE_UP)
    }

    /// Waits for the next datagram.
    pub async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await
    }

    pub fn datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        let Ok(receive) = Receive::new(Protocol::Udp, from, self.local, data) else {
            return;
        };
        if self.rtc.handle_input(Input::Receive(now, receive)).is_err() {
            self.dead = true;
        }
    }

    pub fn timeout(&mut self, now: Instant) {
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            self.dead = true;
        }
    }

    /// Asks the camera (through the relay) for a keyframe.
    pub fn request_keyframe(&mut self) {
        if let Some(mut writer) = self.rtc.writer(self.video_mid) {
            let _ = writer.request_keyframe(None, KeyframeRequestKind::Pli);
        }
    }

    /// Runs str0m until it wants time to pass, sending what it transmits and handing each
    /// frame to `frames`; returns when to call [`Self::timeout`] next.
    pub fn drain(&mut self, mut frames: impl FnMut(MediaIn)) -> Option<Instant> {
        loop {
            if self.is_dead() {
                return None;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => return Some(at),
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(event)) => match event {
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.disconnected_since.get_or_insert_with(Instant::now);
                    }
                    Event::IceConnectionStateChange(
                        IceConnectionState::Connected | IceConnectionState::Completed,
                    ) => self.disconnected_since = None,
                    Event::MediaData(data) => {
                        let track = if data.mid == self.video_mid {
                            Track::Video
                        } else if data.mid == self.audio_mid {
                            Track::Audio
                        } else {
                            continue;
                        };
                        frames(MediaIn {
                            track,
                            rtp: data.time.numer(),
                            arrival: data.network_time,
                            data: Bytes::from_owner(Arc::clone(&data.data)),
                            contiguous: data.contiguous,
                        });
                    }
                    _ => {}
                },
                Err(err) => {
                    tracing::debug!(error = %err, "recorder subscription failed");
                    self.dead = true;
                    return None;
                }
            }
        }
    }

    /// Ends the leg at the relay (best effort: the relay also drops legs that go quiet).
    pub async fn close(self, http: &reqwest::Client) {
        let _ = http.delete(&self.location).send().await;
    }
}

/// The address of this host that routes to the relay named in `url`: loopback for a relay on
/// this host, else whatever interface the system would use to reach it.
async fn local_ip_towards(url: &reqwest::Url) -> IpAddr {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let Some(host) = url.host_str() else {
        return loopback;
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let Ok(mut addrs) = tokio::net::lookup_host((host, port)).await else {
        return loopback;
    };
    let Some(remote) = addrs.next() else {
        return loopback;
    };
    if remote.ip().is_loopback() {
        return loopback;
    }
    let unspecified = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    match std::net::UdpSocket::bind(unspecified).and_then(|s| {
        s.connect(remote)?;
        s.local_addr()
    }) {
        Ok(local) => local.ip(),
        Err(_) => loopback,
    }
}
