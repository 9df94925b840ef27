import { WebSocket } from 'ws';
import type { TestAppia } from '../support/appia.js';

/** A frame the server sent, parsed. */
export type Frame = { readonly t: string; readonly [key: string]: any };

const WAIT_MS = 4000;

/**
 * A device on a real WebSocket: it records what the server sends and lets a
 * test await the frames it expects, in the order they come.
 */
export class TestDevice {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** pings received from the server so far (counted from the start, so none is missed) */
  pings = 0;
  readonly #inbox: Frame[] = [];
  readonly #waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  #refs = 0;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('ping', () => this.pings++);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      const i = this.#waiters.findIndex((w) => w.match(frame));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(frame);
      else this.#inbox.push(frame);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** the next frame (already received or still to come) that matches */
  next(match: (f: Frame) => boolean, what = 'a frame'): Promise<Frame> {
    const i = this.#inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS);
      this.#waiters.push({ match, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  /** the next `command` frame */
  command(): Promise<Frame> {
    return this.next((f) => f.t === 'command', 'command frame');
  }

  /** the next `cancel` frame */
  cancel(): Promise<Frame> {
    return this.next((f) => f.t === 'cancel', 'cancel frame');
  }

  /** sends a report (a ref is added when it has none) and resolves with its ack or nack */
  report(frame: Record<string, unknown>): Promise<Frame> {
    const ref = 'ref' in frame ? frame['ref'] : `r${++this.#refs}`;
    const answer = this.answerTo(ref);
    this.ws.send(JSON.stringify({ ...frame, ref }));
    return answer;
  }

  answerTo(ref: unknown): Promise<Frame> {
    return this.next((f) => (f.t === 'ack' || f.t === 'nack') && f['ref'] === ref, `answer to ref ${JSON.stringify(ref)}`);
  }

  /** sends raw data and resolves with the next answer whose ref is null */
  sendRaw(data: string | Buffer, binary = false): Promise<Frame> {
    const answer = this.answerTo(null);
    this.ws.send(data, { binary });
    return answer;
  }

  /** frames received but not awaited yet */
  get unread(): readonly Frame[] {
    return this.#inbox;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

export interface ConnectOptions {
  /** how the token travels: the Authorization header (default) or the subprotocol */
  readonly via?: 'header' | 'protocol';
  /** false: a client that does not answer pings */
  readonly autoPong?: boolean;
}

export function connectUrl(appia: TestAppia): string {
  return appia.url.replace(/^http/, 'ws') + '/devices/connect';
}

/** Opens a device connection; rejects if the upgrade is refused. */
export function connectDevice(appia: TestAppia, deviceToken: string, options: ConnectOptions = {}): Promise<TestDevice> {
  const url = connectUrl(appia);
  const ws =
    options.via === 'protocol'
      ? new WebSocket(url, ['appia.v1', `token.${deviceToken}`], { autoPong: options.autoPong ?? true })
      : new WebSocket(url, { headers: { authorization: `Bearer ${deviceToken}` }, autoPong: options.autoPong ?? true });
  const device = new TestDevice(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(device));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Attempts an upgrade that should be refused; resolves with the HTTP status and body. */
export function refusedUpgrade(
  url: string,
  headers: Record<string, string>,
  protocols?: string[],
): Promise<{ status: number; body: any; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols ?? [], { headers });
    ws.once('open', () => {
      ws.close();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined });
      });
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Waits until `check` returns a value that is not undefined (for effects of a disconnect, which no frame announces). */
export async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A LaunchUri command for the device, created over HTTP; returns its id. */
export async function createCommand(appia: TestAppia, userToken: string, deviceId: string, uri = 'https://example.com/'): Promise<string> {
  const res = await appia.api(userToken, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'LaunchUri', payload: { uri } });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export async function commandStatus(appia: TestAppia, userToken: string, deviceId: string, commandId: string): Promise<string> {
  const res = await appia.api(userToken, 'GET', `/beta/me/devices/${deviceId}/commands/${commandId}`);
  return res.body.status as string;
}

export async function historyOf(appia: TestAppia, userToken: string, deviceId: string, commandId: string): Promise<string[]> {
  const res = await appia.api(userToken, 'GET', `/beta/me/devices/${deviceId}/commands/${commandId}/history`);
  return (res.body.value as Array<{ status: string }>).map((h) => h.status);
}

export async function presenceOf(appia: TestAppia, userToken: string, deviceId: string): Promise<{ status: string; lastSeenDateTime: string | null }> {
  const res = await appia.api(userToken, 'GET', `/beta/me/devices/${deviceId}`);
  return { status: res.body.status, lastSeenDateTime: res.body.lastSeenDateTime };
}
