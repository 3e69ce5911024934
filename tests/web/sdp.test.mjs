// The SDP text of WHIP/WHEP legs (web/js/webrtc.js): the peer connection's configuration and
// what an ICE restart sends and applies.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { iceFragment, rtcConfiguration, withIceCredentials } from '../../web/js/webrtc.js';

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:secretsecretsecretsecret',
  'a=mid:0',
  'a=candidate:1 1 udp 2122260223 192.168.1.5 50000 typ host',
  'a=candidate:2 1 udp 1686052607 203.0.113.7 50000 typ srflx raddr 192.168.1.5 rport 50000',
  'm=video 9 UDP/TLS/RTP/SAVPF 102',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:secretsecretsecretsecret',
  'a=mid:1',
  'a=candidate:3 1 udp 2122260223 192.168.1.5 50002 typ host',
  '',
].join('\r\n');

test('an ICE restart sends the credentials and the first section’s candidates', () => {
  assert.equal(iceFragment(OFFER), [
    'a=ice-ufrag:abcd',
    'a=ice-pwd:secretsecretsecretsecret',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=mid:0',
    'a=candidate:1 1 udp 2122260223 192.168.1.5 50000 typ host',
    'a=candidate:2 1 udp 1686052607 203.0.113.7 50000 typ srflx raddr 192.168.1.5 rport 50000',
    '',
  ].join('\r\n'));
  // LF-only SDP reads the same.
  assert.equal(iceFragment(OFFER.replaceAll('\r\n', '\n')), iceFragment(OFFER));
});

test('the relay’s new ICE credentials replace the old ones everywhere', () => {
  const answer = withIceCredentials(OFFER, 'wxyz', 'newpassword');
  assert.equal(answer.match(/a=ice-ufrag:wxyz/g).length, 2);
  assert.equal(answer.match(/a=ice-pwd:newpassword/g).length, 2);
  assert.ok(!answer.includes('abcd'));
  assert.ok(answer.includes('a=candidate:3 1 udp 2122260223 192.168.1.5 50002 typ host'));
});

test('ICE servers keep their credentials only with a username', () => {
  assert.deepEqual(rtcConfiguration(null), { iceServers: [], bundlePolicy: 'max-bundle' });
  assert.deepEqual(rtcConfiguration([
    { urls: 'stun:stun.example:3478' },
    { urls: ['turn:turn.example:3478'], username: '1700000000:u', credential: 'c' },
    { urls: 'turn:other.example', credential: 'ignored' },
  ]), {
    iceServers: [
      { urls: 'stun:stun.example:3478' },
      { urls: ['turn:turn.example:3478'], username: '1700000000:u', credential: 'c' },
      { urls: 'turn:other.example' },
    ],
    bundlePolicy: 'max-bundle',
  });
});
