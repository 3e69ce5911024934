// @ts-check
// WHIP (publish) and WHEP (watch) legs, shared by the camera and the viewer. One POST of a
// complete offer (ICE gathered first, so no trickle is needed on the way in); the Location
// answered is the leg's handle for ICE restarts (PATCH) and for hanging up (DELETE).

import { ApiError, NETWORK_ERROR, problemOf, reachable } from './api.js';

const GATHER_TIMEOUT_MS = 2000;

/**
 * An ICE server as the server lists them (`ice_servers` of a stream session).
 * @typedef {{ urls: string | string[], username?: string, credential?: string }} IceServer
 */

/**
 * @param {IceServer[] | null | undefined} iceServers
 * @returns {RTCConfiguration}
 */
export function rtcConfiguration(iceServers) {
  return {
    iceServers: (iceServers || []).map((s) => ({
      urls: s.urls,
      ...(s.username ? { username: s.username, credential: s.credential } : {}),
    })),
    bundlePolicy: 'max-bundle',
  };
}

/**
 * Puts H.264 first, the profile the relay forwards (constrained baseline, packetization
 * mode 1) before any other: the relay and the recorder pass H.264 and Opus through without
 * transcoding, so a camera that sent VP8 would be refused. Other codecs stay listed after
 * H.264 so a browser without it still makes an offer (and gets a clear refusal).
 * @param {RTCRtpTransceiver} transceiver
 * @param {'send' | 'recv'} direction
 * @returns {boolean} whether H.264 is preferred now
 */
export function preferH264(transceiver, direction) {
  const caps = (direction === 'recv' ? RTCRtpReceiver : RTCRtpSender).getCapabilities?.('video');
  if (!caps || !transceiver.setCodecPreferences) return false;
  const rank = (/** @type {RTCRtpCodec} */ codec) => {
    if (codec.mimeType.toLowerCase() !== 'video/h264') return 3;
    const fmtp = (codec.sdpFmtpLine || '').toLowerCase();
    const mode1 = fmtp.includes('packetization-mode=1');
    if (mode1 && fmtp.includes('profile-level-id=42e0')) return 0;
    if (mode1 && fmtp.includes('profile-level-id=42')) return 1;
    return 2;
  };
  const codecs = [...caps.codecs].sort((a, b) => rank(a) - rank(b));
  if (rank(codecs[0]) > 1) return false;
  try {
    transceiver.setCodecPreferences(codecs);
    return true;
  } catch {
    return false;
  }
}

export function hasH264() {
  const caps = RTCRtpSender.getCapabilities?.('video');
  return Boolean(caps && caps.codecs.some((c) => c.mimeType.toLowerCase() === 'video/h264'));
}

/**
 * Resolves once ICE gathering is complete, or after `ms`: a host candidate is usually enough.
 * @param {RTCPeerConnection} pc
 * @param {number} [ms]
 * @returns {Promise<void>}
 */
export function gathered(pc, ms = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * A WHIP/WHEP request; throws ApiError only when the relay cannot be reached.
 * @param {string} url
 * @param {{ method: string, token?: string, body?: string, contentType?: string, headers?: Record<string, string> }} options
 * @returns {Promise<Response>}
 */
async function sdpFetch(url, { method, token, body, contentType, headers = {} }) {
  /** @type {RequestInit & { headers: Record<string, string> }} */
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = body;
    init.headers['Content-Type'] = contentType;
  }
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, NETWORK_ERROR);
  }
}

/**
 * The ICE credentials and candidates of a local description, as a trickle-ice-sdpfrag.
 * @param {string} sdp
 * @returns {string}
 */
export function iceFragment(sdp) {
  const lines = sdp.split(/\r?\n/);
  const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag:'));
  const pwd = lines.find((l) => l.startsWith('a=ice-pwd:'));
  const firstMedia = lines.findIndex((l) => l.startsWith('m='));
  const out = [ufrag, pwd];
  if (firstMedia >= 0) {
    // With max-bundle every candidate is on the first section's transport.
    out.push(lines[firstMedia]);
    const mid = lines.slice(firstMedia).find((l) => l.startsWith('a=mid:'));
    if (mid) out.push(mid);
    const next = lines.findIndex((l, i) => i > firstMedia && l.startsWith('m='));
    const section = lines.slice(firstMedia, next > 0 ? next : undefined);
    out.push(...section.filter((l) => l.startsWith('a=candidate:')));
  }
  return `${out.filter(Boolean).join('\r\n')}\r\n`;
}

/**
 * An SDP with the ICE credentials an ICE restart answered in place of its own.
 * @param {string} sdp
 * @param {string} ufrag
 * @param {string} pwd
 * @returns {string}
 */
export function withIceCredentials(sdp, ufrag, pwd) {
  return sdp
    .replace(/a=ice-ufrag:.*/g, `a=ice-ufrag:${ufrag}`)
    .replace(/a=ice-pwd:.*/g, `a=ice-pwd:${pwd}`);
}

/**
 * One WHIP or WHEP leg.
 * kind 'publish': `stream` is the local MediaStream; kind 'watch': tracks arrive on `ontrack`.
 * Dispatches `state` (CustomEvent, detail: the connection state) and, watching, `track`
 * (detail: the RTCTrackEvent).
 */
export class MediaLeg extends EventTarget {
  /**
   * @param {object} leg
   * @param {'publish' | 'watch'} leg.kind
   * @param {string} leg.endpoint the WHIP or WHEP endpoint
   * @param {string} leg.token its bearer token
   * @param {IceServer[]} [leg.iceServers]
   * @param {MediaStream} [leg.stream] what a publishing leg sends
   */
  constructor({ kind, endpoint, token, iceServers, stream }) {
    super();
    this.kind = kind;
    this.endpoint = reachable(endpoint);
    this.token = token;
    this.iceServers = iceServers;
    this.stream = stream;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {string | null} the leg's URL at the relay (its Location) */
    this.location = null;
    /** @type {string | null} */
    this.etag = null;
    /** @type {string | null} */
    this.answer = null;
    this.closed = false;
    /** @type {{ audio?: RTCRtpSender, video?: RTCRtpSender }} */
    this.senders = {};
  }

  /** Creates the peer connection, POSTs the offer, applies the answer. Throws ApiError. */
  async connect() {
    const pc = new RTCPeerConnection(rtcConfiguration(this.iceServers));
    this.pc = pc;
    pc.addEventListener('connectionstatechange', () => {
      this.dispatchEvent(new CustomEvent('state', { detail: pc.connectionState }));
    });
    if (this.kind === 'publish') {
      const audio = this.stream.getAudioTracks()[0];
      const video = this.stream.getVideoTracks()[0];
      if (audio) this.senders.audio = pc.addTransceiver(audio, { direction: 'sendonly', streams: [this.stream] }).sender;
      if (video) {
        const t = pc.addTransceiver(video, { direction: 'sendonly', streams: [this.stream] });
        preferH264(t, 'send');
        this.senders.video = t.sender;
      }
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      preferH264(pc.addTransceiver('video', { direction: 'recvonly' }), 'recv');
      pc.addEventListener('track', (e) => this.dispatchEvent(new CustomEvent('track', { detail: e })));
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await sdpFetch(this.endpoint, {
      method: 'POST',
      token: this.token,
      body: pc.localDescription.sdp,
      contentType: 'application/sdp',
    });
    if (response.status !== 201 && response.status !== 200) {
      pc.close();
      this.pc = null;
      throw await problemOf(response);
    }
    const answer = await response.text();
    const location = response.headers.get('Location');
    this.location = location ? new URL(location, this.endpoint).toString() : null;
    this.etag = response.headers.get('ETag');
    this.answer = answer;
    if (this.closed) {
      await this.hangUp();
      return;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }

  /**
   * An ICE restart over the leg's Location (RFC 9725 §4.3.2): the same media session on a new
   * network path, needing no new media token. Throws when the relay no longer knows the leg.
   */
  async restartIce() {
    const pc = this.pc;
    if (!pc || !this.location) throw new Error('no media session to restart');
    const offer = await pc.createOffer({ iceRestart: true });
    await pc.setLocalDescription(offer);
    await gathered(pc);
    const response = await sdpFetch(this.location, {
      method: 'PATCH',
      body: iceFragment(pc.localDescription.sdp),
      contentType: 'application/trickle-ice-sdpfrag',
      headers: { 'If-Match': this.etag || '*' },
    });
    if (response.status !== 200) {
      throw await problemOf(response);
    }
    const frag = await response.text();
    const ufrag = /a=ice-ufrag:(.*)/.exec(frag)?.[1]?.trim();
    const pwd = /a=ice-pwd:(.*)/.exec(frag)?.[1]?.trim();
    if (!ufrag || !pwd) throw new Error('the relay answered the ICE restart without credentials');
    this.etag = response.headers.get('ETag') || this.etag;
    this.answer = withIceCredentials(this.answer, ufrag, pwd);
    await pc.setRemoteDescription({ type: 'answer', sdp: this.answer });
  }

  /**
   * @param {'audio' | 'video'} kind
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(kind, track) {
    const sender = this.senders[kind];
    if (sender) await sender.replaceTrack(track);
  }

  /**
   * Tells the relay the leg is over (best effort) and closes the peer connection. `tellRelay`
   * is false when the relay dropped the leg itself (its session ended), where a DELETE would
   * only earn a 404.
   * @param {boolean} [tellRelay]
   */
  async hangUp(tellRelay = true) {
    this.closed = true;
    const location = this.location;
    this.location = null;
    const pc = this.pc;
    this.pc = null;
    if (location && tellRelay) {
      // DELETE before closing: a closed connection's DTLS alert makes the relay drop the leg
      // at once, and the DELETE arriving after it would find nothing.
      const timeout = new Promise((resolve) => setTimeout(resolve, 2000));
      await Promise.race([sdpFetch(location, { method: 'DELETE' }).catch(() => {}), timeout]);
    }
    if (pc) pc.close();
  }
}
