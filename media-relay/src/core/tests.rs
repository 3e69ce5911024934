//! The core without sockets or clocks: peers are built from offers a str0m client makes in
//! memory, time is made up, datagrams are byte strings.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::media::{Direction, MediaKind};
use uuid::Uuid;

use super::*;
use crate::factory::RtcFactory;

fn factory() -> RtcFactory {
    RtcFactory::new(vec![SocketAddr::from(([127, 0, 0, 1], 40_000))]).unwrap()
}

/// An offer as a camera (sending) or a viewer (receiving) would make it.
fn offer(dir: Direction) -> String {
    let mut rtc = crate::synthetic::peer_config().build(Instant::now());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, dir, None, None, None);
    api.add_media(MediaKind::Audio, dir, None, None, None);
    api.apply().unwrap().0.to_sdp_string()
}

fn add(
    relay: &mut Relay,
    factory: &RtcFactory,
    now: Instant,
    role: LegRole,
    device: Uuid,
) -> Result<String, AddError> {
    let dir = match role {
        LegRole::Publisher => Direction::SendOnly,
        LegRole::Viewer => Direction::RecvOnly,
    };
    let peer = factory.answer(now, role, &offer(dir)).unwrap();
    let id = Uuid::now_v7().simple().to_string();
    relay
        .add_leg(now, id.clone(), role, "cam-1", device, Uuid::now_v7(), peer)
        .map(|()| id)
}

#[test]
fn who_may_join_a_stream() {
    let factory = factory();
    let config = CoreConfig {
        max_legs: 3,
        ..CoreConfig::default()
    };
    let mut relay = Relay::new(config, factory.candidates());
    let t0 = Instant::now();
    let (camera, other) = (Uuid::now_v7(), Uuid::now_v7());

    assert_eq!(
        add(&mut relay, &factory, t0, LegRole::Viewer, Uuid::now_v7()),
        Err(AddError::NoPublisher)
    );
    let first = add(&mut relay, &factory, t0, LegRole::Publisher, camera).unwrap();
    assert_eq!(
        add(&mut relay, &factory, t0, LegRole::Publisher, other),
        Err(AddError::PublisherTaken)
    );
    // The same camera again replaces its leg.
    let second = add(&mut relay, &factory, t0, LegRole::Publisher, camera).unwrap();
    assert_eq!(relay.leg_count(), 1);
    assert!(relay.ice(&first).is_none());
    assert!(relay.ice(&second).is_some());
    add(&mut relay, &factory, t0, LegRole::Viewer, Uuid::now_v7()).unwrap();
    add(&mut relay, &factory, t0, LegRole::Viewer, Uuid::now_v7()).unwrap();
    assert_eq!(
        add(&mut relay, &factory, t0, LegRole::Viewer, Uuid::now_v7()),
        Err(AddError::Overloaded)
    );
}

#[test]
fn peers_that_never_connect_are_dropped_and_the_stream_closes_after_the_grace() {
    let factory = factory();
    let config = CoreConfig::default();
    let (connect, grace) = (config.connect_timeout, config.publisher_grace);
    let mut relay = Relay::new(config, factory.candidates());
    let t0 = Instant::now();
    add(&mut relay, &factory, t0, LegRole::Publisher, Uuid::now_v7()).unwrap();
    add(&mut relay, &factory, t0, LegRole::Viewer, Uuid::now_v7()).unwrap();
    assert!(relay.next_timeout(t0) <= t0 + connect);

    let t1 = t0 + connect + Duration::from_millis(1);
    relay.handle_timeout(t1);
    assert_eq!(relay.leg_count(), 0);
    let events: Vec<RelayEvent> = std::iter::from_fn(|| relay.poll_event()).collect();
    assert!(events.contains(&RelayEvent::PublisherAway {
        stream: "cam-1".into()
    }));
    assert!(events
        .iter()
        .any(|e| matches!(e, RelayEvent::ViewerLeft { viewers: 0, .. })));

    relay.handle_timeout(t1 + grace);
    assert_eq!(
        relay.poll_event(),
        Some(RelayEvent::StreamClosed {
            stream: "cam-1".into()
        })
    );
}

#[test]
fn garbage_and_strangers_are_counted_and_dropped() {
    let factory = factory();
    let mut relay = Relay::new(CoreConfig::default(), factory.candidates());
    let now = Instant::now();
    add(
        &mut relay,
        &factory,
        now,
        LegRole::Publisher,
        Uuid::now_v7(),
    )
    .unwrap();
    let from: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    relay.handle_datagram(now, from, b"hello");
    relay.handle_datagram(now, from, &[]);
    // RTP from an address no peer has used.
    let mut rtp = vec![0x80, 96, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef];
    rtp.extend_from_slice(&[0; 40]);
    relay.handle_datagram(now, from, &rtp);
    let stats = relay.stats();
    assert_eq!(stats.garbage_datagrams, 2);
    assert_eq!(stats.unrouted_datagrams, 1);
    assert_eq!(relay.leg_count(), 1);
    assert!(relay.poll_event().is_none());
}
