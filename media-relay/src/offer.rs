//! Checks on what clients send before str0m sees it: an SDP offer must be well formed and ask
//! for what this relay forwards (H.264 packetization-mode 1 in the constrained-baseline family
//! and Opus, in the right direction), and trickle-ICE fragments (RFC 8840) are read here.

use crate::LegRole;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    /// Not SDP, or SDP str0m cannot read (400).
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// Valid SDP asking for media this relay does not forward (422).
    #[error("{0}")]
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Video,
    Other,
}

#[derive(Debug)]
struct Section<'a> {
    kind: Kind,
    lines: Vec<&'a str>,
}

fn sections(sdp: &str) -> Result<Vec<Section<'_>>, OfferError> {
    let mut lines = sdp.lines().map(str::trim_end).filter(|l| !l.is_empty());
    if lines.next() != Some("v=0") {
        return Err(OfferError::Malformed("an SDP offer starts with v=0".into()));
    }
    let mut out: Vec<Section> = Vec::new();
    for line in lines {
        if let Some(media) = line.strip_prefix("m=") {
            let kind = match media.split(' ').next() {
                Some("audio") => Kind::Audio,
                Some("video") => Kind::Video,
                _ => Kind::Other,
            };
            out.push(Section {
                kind,
                lines: Vec::new(),
            });
        } else if let Some(section) = out.last_mut() {
            section.lines.push(line);
        }
    }
    Ok(out)
}

fn attr<'a, 's>(section: &'s Section<'a>, name: &str) -> impl Iterator<Item = &'a str> + 's {
    let prefix = format!("a={name}");
    section.lines.iter().filter_map(move |l| {
        let rest = l.strip_prefix(&prefix)?;
        match rest.strip_prefix(':') {
            Some(value) => Some(value),
            None if rest.is_empty() => Some(""),
            None => None,
        }
    })
}

/// Whether a section offers a payload type of `codec` (e.g. `H264/90000`) passing `fmtp_ok`.
fn offers(section: &Section, codec: &str, fmtp_ok: impl Fn(&str) -> bool) -> bool {
    attr(section, "rtpmap").any(|map| {
        let mut parts = map.splitn(2, ' ');
        let (Some(pt), Some(name)) = (parts.next(), parts.next()) else {
            return false;
        };
        if !name
            .to_ascii_lowercase()
            .starts_with(&codec.to_ascii_lowercase())
        {
            return false;
        }
        let fmtp = attr(section, "fmtp")
            .find_map(|f| f.strip_prefix(pt).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or("");
        fmtp_ok(fmtp)
    })
}

/// H.264 the relay forwards: packetization-mode 1, profile_idc 0x42 (baseline family,
/// which includes constrained baseline, 42e0.. / 42c0..).
fn h264_ok(fmtp: &str) -> bool {
    let param = |key: &str| {
        fmtp.split(';')
            .map(str::trim)
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    param("packetization-mode") == Some("1")
        && param("profile-level-id")
            .is_some_and(|p| p.len() == 6 && p[..2].eq_ignore_ascii_case("42"))
}

fn direction(section: &Section) -> &'static str {
    for dir in ["sendrecv", "sendonly", "recvonly", "inactive"] {
        if attr(section, dir).next().is_some() {
            return dir;
        }
    }
    "sendrecv"
}

/// Checks an offer for a publisher (WHIP) or viewer (WHEP) leg.
pub fn check(sdp: &str, role: LegRole) -> Result<(), OfferError> {
    let sections = sections(sdp)?;
    let media: Vec<&Section> = sections.iter().filter(|s| s.kind != Kind::Other).collect();
    if media.is_empty() {
        return Err(OfferError::Unsupported(
            "the offer has no audio or video".into(),
        ));
    }
    for kind in [Kind::Audio, Kind::Video] {
        if media.iter().filter(|s| s.kind == kind).count() > 1 {
            return Err(OfferError::Unsupported(format!(
                "one {} track at most",
                if kind == Kind::Audio {
                    "audio"
                } else {
                    "video"
                }
            )));
        }
    }
    for section in media {
        let dir = direction(section);
        let wanted = match role {
            LegRole::Publisher => matches!(dir, "sendonly" | "sendrecv"),
            LegRole::Viewer => matches!(dir, "recvonly" | "sendrecv"),
        };
        if !wanted {
            return Err(OfferError::Unsupported(match role {
                LegRole::Publisher => format!("a WHIP offer sends media; this one is {dir}"),
                LegRole::Viewer => format!("a WHEP offer receives media; this one is {dir}"),
            }));
        }
        let supported = match section.kind {
            Kind::Video => offers(section, "H264/90000", h264_ok),
            Kind::Audio => offers(section, "opus/48000", |_| true),
            Kind::Other => true,
        };
        if !supported {
            return Err(OfferError::Unsupported(match section.kind {
                Kind::Video => {
                    "video must be H.264 (constrained baseline, packetization-mode=1)".into()
                }
                _ => "audio must be Opus".into(),
            }));
        }
    }
    Ok(())
}

/// The `a=mid` of each audio and video section, in order.
pub fn media_mids(sdp: &str) -> Vec<(String, Kind)> {
    sections(sdp)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.kind != Kind::Other)
        .filter_map(|s| attr(s, "mid").next().map(|mid| (mid.to_string(), s.kind)))
        .collect()
}

/// The offer's `a=ice-ufrag` (session level or the first section's).
pub fn remote_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .map(str::to_string)
}

/// A trickle-ICE SDP fragment (RFC 8840) as sent in a WHIP/WHEP PATCH.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    pub ufrag: Option<String>,
    pub pwd: Option<String>,
    /// `candidate:...` lines, without the `a=`.
    pub candidates: Vec<String>,
    pub end_of_candidates: bool,
}

pub fn parse_fragment(body: &str) -> Result<Fragment, OfferError> {
    let mut fragment = Fragment::default();
    for line in body.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
            fragment.ufrag = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
            fragment.pwd = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("a=") {
            if v.starts_with("candidate:") {
                fragment.candidates.push(v.to_string());
            } else if v == "end-of-candidates" {
                fragment.end_of_candidates = true;
            }
        } else if !(line.starts_with("m=") || line.starts_with("c=")) {
            return Err(OfferError::Malformed(format!(
                "unexpected line in fragment: {line}"
            )));
        }
    }
    if fragment.ufrag.is_some() != fragment.pwd.is_some() {
        return Err(OfferError::Malformed(
            "ice-ufrag and ice-pwd come together".into(),
        ));
    }
    Ok(fragment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(video_dir: &str, video_rtpmap: &str, fmtp: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na={video_dir}\r\na=rtpmap:96 {video_rtpmap}\r\n\
             a=fmtp:96 {fmtp}\r\n"
        )
    }

    const CB: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

    #[test]
    fn accepts_constrained_baseline_and_opus() {
        assert_eq!(
            check(&offer("sendonly", "H264/90000", CB), LegRole::Publisher),
            Ok(())
        );
    }

    #[test]
    fn refuses_other_codecs_profiles_and_directions() {
        let vp8 = offer("sendonly", "VP8/90000", "");
        assert!(matches!(
            check(&vp8, LegRole::Publisher),
            Err(OfferError::Unsupported(_))
        ));
        let high = offer(
            "sendonly",
            "H264/90000",
            "packetization-mode=1;profile-level-id=64001f",
        );
        assert!(matches!(
            check(&high, LegRole::Publisher),
            Err(OfferError::Unsupported(_))
        ));
        let mode0 = offer(
            "sendonly",
            "H264/90000",
            "packetization-mode=0;profile-level-id=42e01f",
        );
        assert!(matches!(
            check(&mode0, LegRole::Publisher),
            Err(OfferError::Unsupported(_))
        ));
        // A publisher's offer that only receives video; a viewer's that only sends.
        let recv = offer("recvonly", "H264/90000", CB);
        assert!(matches!(
            check(&recv, LegRole::Publisher),
            Err(OfferError::Unsupported(_))
        ));
        let send = offer("sendonly", "H264/90000", CB);
        assert!(matches!(
            check(&send, LegRole::Viewer),
            Err(OfferError::Unsupported(_))
        ));
        assert!(matches!(
            check("hello", LegRole::Viewer),
            Err(OfferError::Malformed(_))
        ));
        let empty = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
        assert!(matches!(
            check(empty, LegRole::Viewer),
            Err(OfferError::Unsupported(_))
        ));
    }

    #[test]
    fn reads_trickle_fragments() {
        let body = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n\
                    a=mid:0\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0\r\n\
                    a=end-of-candidates\r\n";
        let f = parse_fragment(body).unwrap();
        assert_eq!(f.ufrag.as_deref(), Some("EsAw"));
        assert_eq!(f.candidates.len(), 1);
        assert!(f.candidates[0].starts_with("candidate:1387637174"));
        assert!(f.end_of_candidates);
        assert!(parse_fragment("a=ice-ufrag:x\r\n").is_err());
        assert!(parse_fragment("garbage").is_err());
    }
}
