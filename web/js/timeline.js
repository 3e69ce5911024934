// @ts-check
// Events and clips: the timeline (live from the WebSocket), one event with its clip, and the
// list of recordings.

import { api, describeError, reachable, request } from './api.js';
import { busy, clear, fmtBytes, fmtDuration, fmtTime, h, messageBox } from './dom.js';

const PAGE = 20;
const TRIGGERS = { motion: 'Motion', sound: 'Sound', person: 'Person', manual: 'Manual' };
const EVENT_STATUS = { active: 'Happening now', ended: 'Ended', acknowledged: 'Acknowledged' };

/** @typedef {import('./viewer.js').ViewerApp} ViewerApp */

/**
 * A <video> for a clip; falls back to fetching with the bearer token when there is no playback URL.
 * @param {ViewerApp} app
 * @param {{ id: string, playback_url?: string }} recording
 * @param {string} [testid]
 * @returns {HTMLElement}
 */
export function clipPlayer(app, recording, testid = 'clip-video') {
  const video = h('video', {
    class: 'clip', controls: true, preload: 'metadata', playsinline: true, 'data-testid': testid,
    'data-recording-id': recording.id, 'aria-label': 'Event clip',
  });
  const message = messageBox();
  video.addEventListener('error', () => {
    message.error('This clip could not be played here. It may have been deleted, or this browser cannot play MP4 (H.264) video.');
  });
  if (recording.playback_url) {
    video.src = reachable(recording.playback_url);
  } else {
    request(`/api/v1/recordings/${recording.id}/media`, { token: app.userToken(), raw: true })
      .then((response) => response.blob())
      .then((blob) => { video.src = URL.createObjectURL(blob); })
      .catch((err) => message.error(`Could not load the clip: ${describeError(err)}`));
  }
  return h('div', { class: 'clip-box' }, video, message.el);
}

export class Timeline {
  /** @param {ViewerApp} app */
  constructor(app) {
    this.app = app;
    this.items = new Map();
    this.cursor = null;
    this.loaded = false;
    this.list = h('ul', { class: 'event-list', 'data-testid': 'event-list' });
    this.more = h('button', { type: 'button', class: 'secondary', 'data-testid': 'events-more', text: 'Load more', hidden: true });
    this.more.addEventListener('click', () => busy(this.more, () => this.loadPage()));
    this.message = messageBox('events-message');
    this.empty = h('p', { class: 'empty', text: 'No events yet. When a camera sees motion, it shows up here at once.', hidden: true });
    this.el = h('section', { class: 'view', 'aria-labelledby': 'events-title' },
      h('h1', { id: 'events-title', text: 'Events' }), this.message.el, this.list, this.empty, this.more);
  }

  ensureLoaded() {
    if (!this.loaded) this.reload();
  }

  async reload() {
    this.cursor = null;
    this.items.clear();
    this.list.replaceChildren();
    this.loaded = true;
    await this.loadPage();
  }

  async loadPage() {
    try {
      const url = `/api/v1/events?limit=${PAGE}${this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : ''}`;
      const page = await api(url, { token: this.app.userToken() });
      for (const event of page.items) this.upsert(event, false, true);
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.message.hide();
    } catch (err) {
      this.message.error(`Could not load events: ${describeError(err)}`);
    }
    this.empty.hidden = this.items.size > 0;
  }

  /** A new or changed event; `fresh` ones go on top (the list is newest first). */
  upsert(event, fresh, append = false) {
    if (!this.loaded && !fresh) return;
    let row = this.items.get(event.id);
    if (!row) {
      row = { link: h('a', { class: 'event-link', 'data-link': '', href: `/app/events/${event.id}` }) };
      row.el = h('li', { class: 'event-item', 'data-testid': 'event-item', 'data-event-id': event.id }, row.link);
      this.items.set(event.id, row);
      if (append) this.list.append(row.el);
      else this.list.prepend(row.el);
    }
    row.event = event;
    this.renderRow(row);
    this.empty.hidden = true;
  }

  renderRow(row) {
    const { event } = row;
    row.el.dataset.status = event.status;
    row.el.dataset.trigger = event.triggered_by;
    clear(row.link,
      h('span', { class: 'event-title', text: event.title || TRIGGERS[event.triggered_by] || 'Event' }),
      h('span', { class: 'event-camera', text: this.app.cameraName(event.device_id) }),
      h('time', { datetime: event.started_at, text: fmtTime(event.started_at) }),
      h('span', { class: `badge ${event.status}`, text: EVENT_STATUS[event.status] || event.status }));
  }

  renderNames() {
    for (const row of this.items.values()) this.renderRow(row);
  }
}

export class EventDetail {
  /**
   * @param {ViewerApp} app
   * @param {string} id the event's id
   */
  constructor(app, id) {
    this.app = app;
    this.id = id;
    this.event = null;
    this.message = messageBox('event-message');
    this.body = h('div', {}, h('p', { text: 'Loading…' }));
    this.clipSlot = h('div', { class: 'clip-slot', 'data-testid': 'clip-slot' });
    this.el = h('div', {},
      h('p', {}, h('a', { href: '/app/events', 'data-link': '', text: '← All events' })),
      h('h1', { id: 'event-title', text: 'Event' }), this.message.el, this.body, this.clipSlot);
    this.shownRecordings = new Set();
    this.load();
    // The clip is ready a post-roll after the event ends; the WebSocket says when, and a slow
    // poll covers a missed message.
    this.poll = setInterval(() => {
      if (!this.el.isConnected) { clearInterval(this.poll); return; }
      if (!this.hasClip) this.load();
    }, 5000);
  }

  async load() {
    try {
      const event = await api(`/api/v1/events/${this.id}`, { token: this.app.userToken() });
      this.render(event);
    } catch (err) {
      clearInterval(this.poll);
      this.message.error(err.status === 404 ? 'This event does not exist, or is not yours to see.' : `Could not load the event: ${describeError(err)}`);
      this.body.replaceChildren();
    }
  }

  onEvent(event) {
    if (event.id === this.id) this.load();
  }

  onRecording(recording) {
    if (recording.event_id === this.id) this.load();
  }

  render(data) {
    this.event = data;
    const title = this.el.querySelector('h1');
    title.textContent = data.title || TRIGGERS[data.triggered_by] || 'Event';
    document.title = `${title.textContent} · SecureCam`;
    const ack = h('button', { type: 'button', class: 'primary', 'data-testid': 'event-ack', text: 'Acknowledge' });
    ack.addEventListener('click', () => busy(ack, async () => {
      try {
        const answer = await api(`/api/v1/events/${this.id}/acknowledge`, { method: 'POST', token: this.app.userToken() });
        const event = answer?.event || answer;
        if (event?.id) this.app.timeline.upsert(event, false);
        this.load();
      } catch (err) {
        this.message.error(`Could not acknowledge: ${describeError(err)}`);
      }
    }));
    clear(this.body, h('dl', { class: 'facts' },
      h('dt', { text: 'Camera' }), h('dd', { text: this.app.cameraName(data.device_id) }),
      h('dt', { text: 'Trigger' }), h('dd', { text: TRIGGERS[data.triggered_by] || data.triggered_by }),
      h('dt', { text: 'Started' }), h('dd', {}, h('time', { datetime: data.started_at, text: fmtTime(data.started_at) })),
      h('dt', { text: 'Ended' }), h('dd', { text: data.ended_at ? fmtTime(data.ended_at) : 'Still happening' }),
      h('dt', { text: 'Status' }), h('dd', { 'data-testid': 'event-status', text: EVENT_STATUS[data.status] || data.status })),
    data.status === 'acknowledged' ? null : h('div', { class: 'button-row' }, ack));

    const recordings = data.recordings || [];
    const available = recordings.filter((r) => r.status === 'available');
    this.hasClip = available.length > 0;
    if (available.length) {
      const fresh = available.filter((r) => !this.shownRecordings.has(r.id));
      if (fresh.length || !this.clipSlot.querySelector('video')) {
        // Players that exist keep their position; only new clips are added.
        if (!this.clipSlot.querySelector('video')) this.clipSlot.replaceChildren();
        for (const recording of fresh) {
          this.shownRecordings.add(recording.id);
          this.clipSlot.append(h('p', { class: 'hint', text: `Clip, ${fmtDuration(recording.duration_seconds)}` }), clipPlayer(this.app, recording));
        }
      }
    } else if (recordings.some((r) => r.status === 'recording' || r.status === 'uploading')) {
      clear(this.clipSlot, h('p', { class: 'message info', role: 'status', text: 'The clip is being recorded. It appears here a few seconds after the event ends.' }));
    } else if (recordings.some((r) => r.status === 'failed')) {
      clear(this.clipSlot, h('p', { class: 'message error', role: 'alert', text: 'The clip of this event could not be recorded.' }));
    } else {
      clear(this.clipSlot, h('p', { class: 'message info', role: 'status', text: data.status === 'active' ? 'Recording starts as soon as the camera sends video.' : 'No clip yet. Clips appear here when they are ready.' }));
    }
  }
}

export class RecordingsView {
  /** @param {ViewerApp} app */
  constructor(app) {
    this.app = app;
    this.loaded = false;
    this.cursor = null;
    this.rows = new Map();
    this.list = h('ul', { class: 'recording-list', 'data-testid': 'recording-list' });
    this.message = messageBox('recordings-message');
    this.more = h('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true });
    this.more.addEventListener('click', () => busy(this.more, () => this.loadPage()));
    this.empty = h('p', { class: 'empty', text: 'No clips yet.', hidden: true });
    this.el = h('section', { class: 'view', 'aria-labelledby': 'recordings-title' },
      h('h1', { id: 'recordings-title', text: 'Recordings' }), this.message.el, this.list, this.empty, this.more);
  }

  ensureLoaded() {
    if (!this.loaded) this.reload();
  }

  async reload() {
    this.loaded = true;
    this.cursor = null;
    this.rows.clear();
    this.list.replaceChildren();
    await this.loadPage();
  }

  async loadPage() {
    try {
      const url = `/api/v1/recordings?limit=${PAGE}${this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : ''}`;
      const page = await api(url, { token: this.app.userToken() });
      for (const recording of page.items) this.upsert(recording, true);
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.message.hide();
    } catch (err) {
      this.message.error(`Could not load recordings: ${describeError(err)}`);
    }
    this.empty.hidden = this.rows.size > 0;
  }

  onRecording(recording) {
    if (this.loaded) this.upsert(recording, false);
  }

  upsert(recording, append) {
    if (recording.status === 'deleted') return;
    let row = this.rows.get(recording.id);
    if (!row) {
      row = { el: h('li', { class: 'card recording-item', 'data-testid': 'recording-item', 'data-recording-id': recording.id }) };
      this.rows.set(recording.id, row);
      if (append) this.list.append(row.el);
      else this.list.prepend(row.el);
    }
    row.recording = recording;
    const player = h('div');
    const play = h('button', { type: 'button', class: 'primary small', text: 'Play', disabled: recording.status !== 'available' });
    play.addEventListener('click', () => {
      if (player.firstChild) { player.replaceChildren(); play.textContent = 'Play'; return; }
      player.append(clipPlayer(this.app, row.recording, 'recording-video'));
      play.textContent = 'Close';
    });
    const own = recording.owner_user_id === this.app.session.user.id;
    const remove = h('button', { type: 'button', class: 'danger small', text: 'Delete', hidden: !own });
    const message = messageBox();
    remove.addEventListener('click', () => busy(remove, async () => {
      if (!window.confirm('Delete this clip for good?')) return;
      try {
        await api(`/api/v1/recordings/${recording.id}`, { method: 'DELETE', token: this.app.userToken() });
        row.el.remove();
        this.rows.delete(recording.id);
        this.empty.hidden = this.rows.size > 0;
      } catch (err) {
        message.error(`Could not delete: ${describeError(err)}`);
      }
    }));
    const status = recording.status === 'available' ? '' : ` · ${recording.status}`;
    clear(row.el,
      h('div', { class: 'recording-head' },
        h('strong', { text: this.app.cameraName(recording.camera_device_id) }),
        h('time', { datetime: recording.created_at, text: fmtTime(recording.created_at) }),
        h('span', { class: 'hint', text: [fmtDuration(recording.duration_seconds), fmtBytes(recording.size_bytes)].filter(Boolean).join(' · ') + status })),
      recording.event_id ? h('a', { href: `/app/events/${recording.event_id}`, 'data-link': '', text: 'Open its event' }) : null,
      h('div', { class: 'button-row' }, play, remove), message.el, player);
  }
}
