//! Builds one peer (`Rtc`) from a client's offer: ICE-lite on the relay's one UDP port, RTP
//! mode (packets are forwarded, never re-framed), only the codecs the relay forwards, and one
//! DTLS certificate shared by every peer (generating one per peer is the slow part).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{MediaKind, Mid};
use str0m::rtp::{Extension, ExtensionMap, Ssrc};
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};

use crate::offer::{self, Kind, OfferError};
use crate::LegRole;

/// Payload types of the one H.264 profile the relay offers (constrained baseline, mode 1) and
/// its retransmission type; viewers and publisher are negotiated to the same profile.
const H264_PT: u8 = 108;
const H264_RTX_PT: u8 = 109;
const H264_CONSTRAINED_BASELINE: u32 = 0x42e01f;
/// How far back a viewer's NACK can reach by default. Payloads are shared by every viewer of
/// a stream, but str0m keeps a 408-byte record per packet per leg (and grows its ring by
/// doubling), so this is about half of a viewer leg's memory: ~90 KiB at 2.5 Mbit/s (see
/// BENCHMARKS.md). Half a second covers round trips up to ~400 ms; str0m's default (3 s) costs
/// ~600 KiB per viewer leg.
pub const DEFAULT_NACK_HISTORY: Duration = Duration::from_millis(500);
/// The history is also capped in packets: about a thousand a second (a 10 Mbit/s stream).
fn nack_history_packets(history: Duration) -> usize {
    (history.as_millis() as usize).max(64)
}
/// Resends stop when they exceed this share of what a leg sends (a hopeless link).
const RTX_RATIO_CAP: f32 = 0.15;
/// How often str0m reports per-leg statistics (loss, NACKs, PLIs) for `/metrics`.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RtcFactory {
    cert: DtlsCert,
    candidates: Arc<Vec<SocketAddr>>,
    nack_history: Duration,
}

/// A peer ready to join the relay, and the answer for its client.
pub struct NewPeer {
    pub rtc: Rtc,
    pub ufrag: String,
    pub remote_ufrag: String,
    pub answer: String,
    pub tracks: Vec<PeerTrack>,
}

/// One negotiated audio or video section of a peer.
#[derive(Debug, Clone, Copy)]
pub struct PeerTrack {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The payload type this peer uses for the track's codec.
    pub pt: str0m::format::PayloadParams,
    /// Our send SSRC towards a viewer.
    pub send_ssrc: Option<Ssrc>,
}

impl RtcFactory {
    /// `candidates`: the addresses clients reach the UDP port at (host candidates).
    pub fn new(candidates: Vec<SocketAddr>) -> anyhow::Result<Self> {
        str0m::crypto::from_feature_flags().install_process_default();
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| anyhow::anyhow!("could not generate a DTLS certificate"))?;
        anyhow::ensure!(
            !candidates.is_empty(),
            "the relay needs at least one address"
        );
        Ok(RtcFactory {
            cert,
            candidates: Arc::new(candidates),
            nack_history: DEFAULT_NACK_HISTORY,
        })
    }

    /// How far back viewers' NACKs can reach (memory per viewer leg against recovery on long
    /// round trips); zero keeps no history, so lost video is repaired by keyframes only.
    pub fn with_nack_history(mut self, history: Duration) -> Self {
        self.nack_history = history;
        self
    }

    pub fn candidates(&self) -> Arc<Vec<SocketAddr>> {
        self.candidates.clone()
    }

    /// Checks the offer and answers it: recvonly for a publisher, sendonly for a viewer.
    pub fn answer(&self, now: Instant, role: LegRole, sdp: &str) -> Result<NewPeer, OfferError> {
        offer::check(sdp, role)?;
        // The parser's own messages name its internals (`PointerOffset(0x…)`): logged here,
        // and the client told what is wrong in words of the standard.
        let parsed = SdpOffer::from_sdp_string(sdp).map_err(|e| {
            tracing::debug!(error = %e, "an SDP offer did not parse");
            OfferError::Malformed(
                "the offer is not valid SDP (RFC 8866): a line is malformed or out of order".into(),
            )
        })?;
        let creds = IceCreds::new();
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_dtls_cert(self.cert.clone())
            .set_local_ice_credentials(creds.clone())
            .set_stats_interval(Some(STATS_INTERVAL))
            .clear_codecs()
            .enable_opus(true, false);
        config.codec_config().add_h264(
            H264_PT.into(),
            Some(H264_RTX_PT.into()),
            true,
            H264_CONSTRAINED_BASELINE,
        );
        if role == LegRole::Viewer {
            config = config.set_extension_map(viewer_extensions());
        }
        let mut rtc = config.build(now);
        for addr in self.candidates.iter() {
            let candidate = Candidate::host(*addr, "udp")
                .map_err(|e| OfferError::Malformed(format!("candidate {addr}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        let answer = rtc.sdp_api().accept_offer(parsed).map_err(|e| {
            tracing::debug!(error = %e, "an SDP offer could not be negotiated");
            OfferError::Malformed(
                "the offer could not be negotiated (check its ICE credentials, DTLS fingerprint \
                 and media sections)"
                    .into(),
            )
        })?;
        let mut tracks = Vec::new();
        for (mid, kind) in offer::media_mids(sdp) {
            let mid: Mid = mid.as_str().into();
            let Some(media) = rtc.media(mid) else {
                continue;
            };
            let codec = match kind {
                Kind::Video => Codec::H264,
                Kind::Audio => Codec::Opus,
                Kind::Other => continue,
            };
            let remote_pts = media.remote_pts().to_vec();
            let media_kind = media.kind();
            let Some(pt) = rtc
                .codec_config()
                .find(|p| p.spec().codec == codec && remote_pts.contains(&p.pt()))
                .copied()
            else {
                return Err(OfferError::Unsupported(format!(
                    "no common {codec} format for mid {mid}"
                )));
            };
            let send_ssrc = match role {
                LegRole::Viewer => rtc.direct_api().stream_tx_by_mid(mid, None).map(|tx| {
                    if media_kind == MediaKind::Video {
                        let history = self.nack_history;
                        let packets = nack_history_packets(history);
                        tx.set_rtx_cache(packets, history, Some(RTX_RATIO_CAP));
                    }
                    tx.ssrc()
                }),
                LegRole::Publisher => None,
            };
            tracks.push(PeerTrack {
                mid,
                kind: media_kind,
                pt,
                send_ssrc,
            });
        }
        if tracks.is_empty() {
            return Err(OfferError::Unsupported(
                "no track could be negotiated".into(),
            ));
        }
        Ok(NewPeer {
            rtc,
            ufrag: creds.ufrag,
            remote_ufrag: offer::remote_ufrag(sdp).unwrap_or_default(),
            answer: answer.to_sdp_string(),
            tracks,
        })
    }
}

/// Header extensions negotiated with a viewer: str0m's standard set without the two that only
/// feed bandwidth estimation (transport-wide sequence numbers and abs-send-time). The relay
/// does not adapt what it forwards, so a viewer's transport-wide feedback (a packet every
/// ~100 ms per viewer) would only cost both sides; a camera keeps them, its encoder adapts.
fn viewer_extensions() -> ExtensionMap {
    let mut exts = ExtensionMap::empty();
    for (id, ext) in ExtensionMap::standard().iter() {
        if !matches!(
            ext,
            Extension::TransportSequenceNumber | Extension::AbsoluteSendTime
        ) {
            exts.set(id, ext.clone());
        }
    }
    exts
}

/// The local address a datagram from `source` was sent to: the loopback candidate for a
/// loopback peer, else the first (public) one. One socket bound to all interfaces cannot tell
/// which address a datagram arrived on, and ICE needs it; this covers loopback, LAN and NAT 1:1.
pub fn local_for(candidates: &[SocketAddr], source: SocketAddr) -> SocketAddr {
    let loopback = source.ip().is_loopback();
    candidates
        .iter()
        .find(|c| c.ip().is_loopback() == loopback)
        .copied()
        .unwrap_or(candidates[0])
}

/// The addresses to offer: the configured public IP (NAT 1:1) or this host's outbound IP, and
/// loopback for clients on the same machine.
pub fn candidate_addrs(public_ip: Option<IpAddr>, port: u16) -> Vec<SocketAddr> {
    let primary = public_ip.or_else(outbound_ip);
    let mut addrs: Vec<SocketAddr> = primary
        .into_iter()
        .filter(|ip| !ip.is_loopback())
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    addrs.push(SocketAddr::from(([127, 0, 0, 1], port)));
    addrs
}

/// The source address the OS would use to reach the internet (no packet is sent).
fn outbound_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip())
}
