// The camera's publishing (web/js/camera-publisher.js) without a real peer connection: waiting
// for a connection, and the one current publisher that start_stream / stop_stream change.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { connectedWithin, Publishing } from '../../web/js/camera-publisher.js';

/** A stand-in RTCPeerConnection: an EventTarget whose connectionState the test sets. */
function fakePc(state) {
  const pc = new EventTarget();
  pc.connectionState = state;
  pc.become = (next) => {
    pc.connectionState = next;
    pc.dispatchEvent(new Event('connectionstatechange'));
  };
  return pc;
}

test('connectedWithin answers at once for no connection or a connected one', async () => {
  assert.equal(await connectedWithin(null, 1000), false);
  assert.equal(await connectedWithin(fakePc('connected'), 1000), true);
});

test('connectedWithin waits for the connection to connect, fail or close', async () => {
  for (const [end, expected] of [['connected', true], ['failed', false], ['closed', false]]) {
    const pc = fakePc('connecting');
    const answer = connectedWithin(pc, 5000);
    pc.become('checking'); // neither: still waiting
    setTimeout(() => pc.become(end), 10);
    assert.equal(await answer, expected, end);
  }
});

test('connectedWithin gives up after its time', async () => {
  const started = Date.now();
  assert.equal(await connectedWithin(fakePc('connecting'), 50), false);
  assert.ok(Date.now() - started >= 45);
});

/** A Publishing whose current publisher is a stand-in. */
function publishingWith(publisher) {
  let changes = 0;
  const publishing = new Publishing({ stream: () => null, openCamera: async () => {}, changed: () => { changes += 1; } });
  publishing.publisher = publisher;
  return { publishing, changes: () => changes };
}

function fakePublisher(sessionId) {
  const publisher = {
    sessionId,
    stopped: false,
    state: 'live',
    replaced: [],
    async stop() { publisher.stopped = true; publisher.state = 'stopped'; },
    async replaceVideo(track) { publisher.replaced.push(track); },
  };
  return publisher;
}

test('a session is published once', () => {
  const publisher = fakePublisher('s1');
  const { publishing } = publishingWith(publisher);
  assert.equal(publishing.state, 'live');
  assert.equal(publishing.isPublishing('s1'), true);
  assert.equal(publishing.isPublishing('s2'), false);
  publisher.stopped = true;
  assert.equal(publishing.isPublishing('s1'), false);
  assert.equal(publishingWith(null).publishing.isPublishing('s1'), false);
  assert.equal(publishingWith(null).publishing.state, undefined);
});

test('stop_stream stops the publisher and tells the page', async () => {
  const publisher = fakePublisher('s1');
  const { publishing, changes } = publishingWith(publisher);
  await publishing.stop();
  assert.equal(publisher.stopped, true);
  assert.equal(publishing.publisher, null);
  assert.equal(changes(), 1);
  await publishing.stop(); // nothing to stop: the page is still told
  assert.equal(changes(), 2);
});

test('disarming drops the publisher at once', () => {
  const publisher = fakePublisher('s1');
  const { publishing } = publishingWith(publisher);
  publishing.drop();
  assert.equal(publisher.stopped, true);
  assert.equal(publishing.publisher, null);
});

test('a new video track goes to the publisher, if any', async () => {
  const publisher = fakePublisher('s1');
  const { publishing } = publishingWith(publisher);
  await publishing.replaceVideo('track');
  assert.deepEqual(publisher.replaced, ['track']);
  await publishingWith(null).publishing.replaceVideo('track');
});
