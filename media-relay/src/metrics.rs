//! The relay's part of `/metrics`, rendered from a snapshot at scrape time: per-stream and
//! per-leg series come and go with streams and legs, which the process-wide recorder (whose
//! series live forever) is not made for. Legs are labelled by an internal number, never by
//! their session id, which is a secret capability.

use std::fmt::Write;

use crate::delay::{DelayHistogram, BOUNDS_US};
use crate::driver::Snapshot;
use crate::LegRole;

pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, values: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in values {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let streams = &snapshot.streams;
    let legs = &snapshot.legs;
    let s = |name: &str| format!("{{stream=\"{name}\"}}");
    let l = |leg: &crate::core::LegSnapshot| {
        let role = match leg.role {
            LegRole::Publisher => "publisher",
            LegRole::Viewer => "viewer",
        };
        format!(
            "{{stream=\"{}\",leg=\"{}\",role=\"{role}\"}}",
            leg.stream, leg.key
        )
    };
    metric(
        "securecam_relay_streams",
        "gauge",
        "Streams the relay carries.",
        vec![(String::new(), streams.len().to_string())],
    );
    metric(
        "securecam_relay_legs",
        "gauge",
        "Peers connected or connecting.",
        vec![(String::new(), legs.len().to_string())],
    );
    metric(
        "securecam_relay_garbage_datagrams_total",
        "counter",
        "UDP datagrams that were not STUN, DTLS, RTP or RTCP.",
        vec![(String::new(), snapshot.stats.garbage_datagrams.to_string())],
    );
    metric(
        "securecam_relay_unrouted_datagrams_total",
        "counter",
        "UDP datagrams no peer accepted.",
        vec![(String::new(), snapshot.stats.unrouted_datagrams.to_string())],
    );
    metric(
        "securecam_relay_stream_live",
        "gauge",
        "1 while the camera publishes.",
        streams
            .iter()
            .map(|x| (s(&x.stream), (x.live as u8).to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_stream_viewers",
        "gauge",
        "Viewer legs of the stream.",
        streams
            .iter()
            .map(|x| (s(&x.stream), x.viewers.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_stream_bitrate_bps",
        "gauge",
        "The camera's bitrate into the relay.",
        streams
            .iter()
            .map(|x| (s(&x.stream), x.stats.bitrate_in.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_stream_packets_in_total",
        "counter",
        "RTP packets from the camera.",
        streams
            .iter()
            .map(|x| (s(&x.stream), x.stats.packets_in.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_stream_packets_out_total",
        "counter",
        "RTP packets forwarded to viewers.",
        streams
            .iter()
            .map(|x| (s(&x.stream), x.stats.packets_out.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_stream_keyframe_requests_total",
        "counter",
        "Keyframe requests (PLI) sent to the camera.",
        streams
            .iter()
            .map(|x| (s(&x.stream), x.stats.keyframe_requests.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_leg_packets_total",
        "counter",
        "RTP packets received from a publisher or sent to a viewer.",
        legs.iter()
            .map(|x| (l(x), x.stats.packets.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_leg_bytes_total",
        "counter",
        "RTP payload bytes received from a publisher or sent to a viewer.",
        legs.iter()
            .map(|x| (l(x), x.stats.bytes.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_leg_bitrate_bps",
        "gauge",
        "A leg's media bitrate.",
        legs.iter()
            .map(|x| (l(x), x.stats.bitrate.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_leg_nacks_total",
        "counter",
        "NACKs (received from a viewer, sent to a publisher).",
        legs.iter()
            .map(|x| (l(x), x.stats.nacks.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_leg_plis_total",
        "counter",
        "PLIs (received from a viewer, sent to a publisher).",
        legs.iter()
            .map(|x| (l(x), x.stats.plis.to_string()))
            .collect(),
    );
    metric(
        "securecam_relay_leg_loss_ratio",
        "gauge",
        "Fraction of packets lost, as last reported.",
        legs.iter()
            .map(|x| (l(x), x.stats.loss.to_string()))
            .collect(),
    );
    render_delay(&mut out, &snapshot.forward_delay);
    out
}

/// The forwarding delay as a Prometheus histogram (cumulative buckets, seconds).
pub fn render_delay(out: &mut String, histogram: &DelayHistogram) {
    let name = "securecam_relay_forward_delay_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from reading a datagram to sending each datagram it caused.\n# TYPE {name} histogram"
    );
    let mut cumulative = 0;
    for (i, count) in histogram.counts.iter().enumerate() {
        cumulative += count;
        let le = match BOUNDS_US.get(i) {
            Some(us) => format!("{}", *us as f64 / 1e6),
            None => "+Inf".to_string(),
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {}", histogram.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {cumulative}");
}
