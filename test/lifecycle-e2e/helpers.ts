import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { Status } from '../../src/domain/status.js';
import { startTestAppia, type TestAppia, type TestSettings } from '../support/appia.js';

/**
 * What the lifecycle stories share: a server with short timers, a user, raw
 * WebSocket devices that speak DESIGN 4 frames (so a story controls exactly
 * when, and whether, the device answers), an SSE reader, and a record of
 * every status the stories made happen (for the completeness test).
 */

/** DESIGN 8 timings, short enough for tests (every timer still runs for real). */
export const FAST: TestSettings = {
  receiptTimeoutMs: 300,
  retryBaseMs: 50,
  maxAttempts: 3,
  cancelTimeoutMs: 300,
};

export interface World {
  readonly appia: TestAppia;
  readonly token: string;
  /** POST a command (LaunchUri by default) to the device; asserts 201 */
  create(deviceId: string, body?: Record<string, unknown>, headers?: Record<string, string>): Promise<any>;
  get(deviceId: string, commandId: string, headers?: Record<string, string>): Promise<any>;
  /** the command's statuses, oldest first, from GET .../history */
  statuses(deviceId: string, commandId: string): Promise<Status[]>;
  history(deviceId: string, commandId: string): Promise<{ status: Status; dateTime: string; detail?: string }[]>;
  /** resolves once the command has reached `status` (read from its history), failing after `timeoutMs` */
  reach(deviceId: string, commandId: string, status: Status, timeoutMs?: number): Promise<void>;
  /** registers a device; `connect` opens a raw WebSocket connection as it */
  device(name?: string): Promise<{ id: string; deviceToken: string; connect(): Promise<RawDevice> }>;
  stop(): Promise<void>;
}

export async function world(settings: TestSettings = {}, overrides: Parameters<typeof startTestAppia>[1] = {}): Promise<World> {
  const appia = await startTestAppia({ ...FAST, ...settings }, overrides);
  return worldOn(appia, await appia.token('lifecycle-user'));
}

export function worldOn(appia: TestAppia, token: string): World {
  const devices: RawDevice[] = [];
  const base = (deviceId: string) => `/beta/me/devices/${deviceId}/commands`;
  const w: World = {
    appia,
    token,
    async create(deviceId, body = { type: 'LaunchUri', payload: { uri: 'https://example.com/' } }, headers) {
      const res = await appia.api(token, 'POST', base(deviceId), body, headers);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    },
    async get(deviceId, commandId, headers) {
      const res = await appia.api(token, 'GET', `${base(deviceId)}/${commandId}`, undefined, headers);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    },
    async history(deviceId, commandId) {
      const res = await appia.api(token, 'GET', `${base(deviceId)}/${commandId}/history`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const h of res.body.value) reached.add(h.status);
      return res.body.value;
    },
    async statuses(deviceId, commandId) {
      return (await w.history(deviceId, commandId)).map((h) => h.status);
    },
    async reach(deviceId, commandId, status, timeoutMs = 5_000) {
      // Follow the command's own SSE stream: it replays the history, then each change as it happens.
      const stream = await openEvents(appia, token, `${base(deviceId)}/${commandId}/events`);
      try {
        const seen: string[] = [];
        const deadline = setTimeout(() => stream.close(), timeoutMs);
        try {
          for await (const event of stream) {
            seen.push(event.data.status);
            if (event.data.status === status) return void reached.add(status);
          }
        } finally {
          clearTimeout(deadline);
        }
        assert.fail(`command ${commandId} did not reach ${status} within ${timeoutMs} ms; it went ${seen.join(' -> ')}`);
      } finally {
        stream.close();
      }
    },
    async device(name = 'raw device') {
      const { id, deviceToken } = await appia.addDevice(token, name);
      return {
        id,
        deviceToken,
        connect: async () => {
          const device = await RawDevice.connect(appia.url, deviceToken);
          devices.push(device);
          return device;
        },
      };
    },
    async stop() {
      for (const d of devices) d.close();
      await appia.stop();
    },
  };
  return w;
}

/** Every status any story saw in a command's history, for the completeness test. */
export const reached = new Set<string>();

// ---- a raw device: DESIGN 4 frames over a WebSocket ----

export type ServerFrame =
  | { t: 'command'; command: { id: string; type: string; payload: any; expirationDateTime: string | null } }
  | { t: 'cancel'; id: string }
  | { t: 'ack'; ref: string }
  | { t: 'nack'; ref: string | null; error: string };

let refs = 0;

/**
 * A device with no SDK: it answers only when a story tells it to, so a
 * story can hold back a receipt (receipt timeout), a cancel confirmation
 * (cancel timeout), or finish first.
 */
export class RawDevice {
  readonly #ws: WebSocket;
  readonly #frames: ServerFrame[] = [];
  readonly #waiters: { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  readonly closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ServerFrame;
      const i = this.#waiters.findIndex((w) => w.match(frame));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(frame);
      else this.#frames.push(frame);
    });
  }

  static async connect(serverUrl: string, deviceToken: string): Promise<RawDevice> {
    const ws = new WebSocket(serverUrl.replace(/^http/, 'ws') + '/devices/connect', { headers: { authorization: `Bearer ${deviceToken}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`device connection refused: HTTP ${res.statusCode}`)));
    });
    return new RawDevice(ws);
  }

  /** the next frame that matches (one already received, or the next to arrive) */
  next<T extends ServerFrame>(match: (f: ServerFrame) => f is T, timeoutMs = 5_000, what = 'a frame'): Promise<T> {
    const i = this.#frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#frames.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: ServerFrame) => {
          clearTimeout(timer);
          resolve(f as T);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`the device got no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** the next `command` frame (for this id, when given) */
  command(id?: string, timeoutMs?: number) {
    return this.next(
      (f): f is Extract<ServerFrame, { t: 'command' }> => f.t === 'command' && (id === undefined || f.command.id === id),
      timeoutMs,
      `command frame${id ? ` for ${id}` : ''}`,
    );
  }

  /** the next `cancel` frame for this id */
  cancelFrame(id: string, timeoutMs?: number) {
    return this.next((f): f is Extract<ServerFrame, { t: 'cancel' }> => f.t === 'cancel' && f.id === id, timeoutMs, `cancel frame for ${id}`);
  }

  /** sends a report and resolves with the server's ack or nack for it */
  async report(frame: Record<string, unknown> & { t: string }): Promise<Extract<ServerFrame, { t: 'ack' | 'nack' }>> {
    const ref = `raw-${process.pid}-${++refs}`;
    const answer = this.next((f): f is Extract<ServerFrame, { t: 'ack' | 'nack' }> => (f.t === 'ack' || f.t === 'nack') && f.ref === ref, 5_000, `ack for ${frame.t}`);
    this.#ws.send(JSON.stringify({ ...frame, ref }));
    return answer;
  }

  /** sends a report that must be acked */
  async acked(frame: Record<string, unknown> & { t: string }): Promise<void> {
    const answer = await this.report(frame);
    assert.equal(answer.t, 'ack', `the server refused ${JSON.stringify(frame)}: ${JSON.stringify(answer)}`);
  }

  close(): void {
    this.#ws.close();
  }
}

// ---- Server-Sent Events ----

export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: any;
}

export interface SseStream extends AsyncIterable<SseEvent> {
  readonly status: number;
  readonly headers: Headers;
  /** comment lines seen so far (heartbeats) */
  readonly comments: string[];
  /** the next event, or undefined when the stream ended */
  next(timeoutMs?: number): Promise<SseEvent | undefined>;
  close(): void;
}

/**
 * Opens an SSE stream and parses it (the W3C event-stream format). It uses
 * node:http on a connection of its own (no keep-alive pool), so closing the
 * stream closes its socket and leaves nothing that could hold a server open.
 */
export async function openEvents(appia: TestAppia, token: string, path: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(appia.url + path, { agent: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers } });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
  const comments: string[] = [];
  const queue: SseEvent[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line.slice(1).trim());
        else if (line.startsWith('id:')) id = line.slice(3).trim();
        else if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) queue.push({ id, event, data: JSON.parse(data.join('\n')) });
      wake?.();
    }
  });
  const finish = () => {
    ended = true;
    wake?.();
  };
  res.once('end', finish);
  res.once('close', finish);
  res.once('error', finish);
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
  const next = async (timeoutMs = 5_000): Promise<SseEvent | undefined> => {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0 && !ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms on ${path}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    return queue.shift();
  };
  return {
    status: res.statusCode ?? 0,
    headers: responseHeaders,
    comments,
    next,
    close: () => res.destroy(),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const event = await next(60_000).catch(() => undefined);
        if (!event) return;
        yield event;
      }
    },
  };
}
