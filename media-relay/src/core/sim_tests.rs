//! The relay in a simulated network (see [`crate::sim`]): keyframe starts, NACK repair, and
//! vanished viewers, deterministically and without sockets.

use std::time::Duration;

use crate::core::RelayEvent;
use crate::sim::{publisher_and_viewers, Seen, STREAM};

#[test]
fn viewers_get_the_camera_from_a_keyframe_on() {
    let mut net = publisher_and_viewers(2);
    net.run(Duration::from_secs(3));
    for viewer in &net.peers[1..] {
        let seen = &viewer.seen;
        assert!(seen.connected);
        assert_eq!(seen.first_video_was_keyframe, Some(true), "{seen:?}");
        assert!(seen.video_packets > 200, "{seen:?}");
        assert!(seen.audio_packets > 50, "{seen:?}");
    }
    assert!(
        net.peers[0].seen.keyframe_requests >= 1,
        "the relay asked the camera for a keyframe"
    );
}

#[test]
fn a_lossy_viewer_gets_retransmissions_and_slows_no_one() {
    let mut net = publisher_and_viewers(2);
    // Every 10th RTP datagram to viewer 2 is lost (retransmissions included).
    net.peers[2].drop_downlink = Some(|n| n % 10 == 0);
    net.run(Duration::from_secs(4));
    let sent = net.peers[0].video_seq;
    let (clean, lossy) = (&net.peers[1].seen, &net.peers[2].seen);
    // The clean viewer misses nothing after its first keyframe, loss next door or not.
    let span = |seen: &Seen| seen.video_seqs.last().unwrap() - seen.video_seqs.first().unwrap() + 1;
    assert_eq!(clean.video_seqs.len() as u64, span(clean), "{clean:?}");
    assert!(span(clean) > sent * 3 / 4);
    // The lossy one asked for what it missed and got nearly all of it back.
    let nacks = net.leg_stats(2).nacks;
    assert!(nacks > 0, "the lossy viewer's NACKs reached the relay");
    assert_eq!(net.leg_stats(1).nacks, 0);
    let repaired = lossy.video_seqs.len() as f64 / span(lossy) as f64;
    assert!(
        repaired > 0.97,
        "{:.3} of the lossy viewer's video arrived (10% was dropped)",
        repaired
    );
}

#[test]
fn a_viewer_that_vanishes_is_dropped_and_the_others_go_on() {
    let mut net = publisher_and_viewers(2);
    net.run(Duration::from_secs(1));
    let session = net.sessions[2];
    net.peers[2].vanished = true;
    let before = net.peers[1].seen.video_packets;
    // A peer that stops talking (no STUN, no RTCP) is disconnected by ICE and dropped.
    let mut gone_after = None;
    for second in 1..=40 {
        net.run(Duration::from_secs(1));
        if net.relay.leg_count() == 2 {
            gone_after = Some(second);
            break;
        }
    }
    let gone_after = gone_after.expect("the vanished viewer's leg was dropped");
    assert!(gone_after <= 30, "dropped after {gone_after} s");
    assert!(net.events.contains(&RelayEvent::ViewerLeft {
        stream: STREAM.into(),
        session,
        viewers: 1
    }));
    assert!(
        net.relay.end_session(net.now, session) == 0,
        "nothing left of it"
    );
    // The other viewer never noticed.
    let during = net.peers[1].seen.video_packets - before;
    assert!(
        during as f64 >= (gone_after as f64) * 30.0 * 4.0 * 0.95,
        "{during} video packets in {gone_after} s"
    );
    let before = net.peers[1].seen.video_packets;
    net.run(Duration::from_secs(1));
    assert!(net.peers[1].seen.video_packets - before > 100);
}
