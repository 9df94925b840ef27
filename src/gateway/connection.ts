import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, type RawData } from 'ws';
import type { CommandCore } from '../core/core.js';
import type { Report } from '../core/reports.js';
import type { DeviceSession } from '../core/session.js';
import type { DeviceRecord } from '../domain/device.js';
import { dispatch } from './handlers/dispatch.js';
import type { WriteTogether } from './write-together.js';
import { ackFrame, cancelFrame, commandFrame, decodeFrame, isReport, nackFrame, type Decoded, type FrameLimits } from './protocol.js';

export interface SocketDeps {
  readonly core: CommandCore;
  readonly log: FastifyBaseLogger;
  readonly limits: FrameLimits;
}

/** WebSocket close codes the gateway uses (4000-4999 are the application's). */
export const CLOSE = {
  replaced: { code: 4000, reason: 'replaced by a newer connection of this device' },
  deviceRemoved: { code: 4001, reason: 'the device was removed' },
  shutdown: { code: 1001, reason: 'the server is shutting down' },
  internal: { code: 1011, reason: 'internal error; reconnect to re-send unacked reports' },
} as const;

/** Frames waiting in a connection's queue before it stops reading from the device (TCP then pushes back). */
export const PAUSE_AT = 32;
/**
 * Frames ws had already read when the connection paused are still queued, up
 * to this many frames and bytes (about one socket read of small reports);
 * beyond either they are nacked "busy".
 */
export const MAX_QUEUED = 1024;
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
export const BUSY = 'busy: too many frames in flight on this connection; send it again after an answer';
/** bytes written and not yet handed to the kernel below which a new command may be written at once (Outlet.idle) */
const IDLE_BELOW = 64 * 1024;
/** most reports handed to the core as one chain */
const MAX_CHAIN = 256;

type Item =
  | { readonly kind: 'frame'; readonly decoded: Decoded; readonly size: number }
  /** `wake`: a bus wake-up, which the device's frames may pass (the connect and disconnect work they may not) */
  | { readonly kind: 'task'; readonly run: () => Promise<void>; readonly wake: boolean };

/**
 * One device's live WebSocket (DESIGN 4): the transport side of a core
 * DeviceSession. Everything runs through one queue: the connect work, then
 * the device's frames and the bus's wake-ups (frames first, in order), and
 * last the disconnect work. So a re-sent report is always handled after the
 * re-delivery of its command on connect, and the disconnect never races a report.
 *
 * Consecutive report frames waiting in the queue go to the core together, as
 * one chain: `received` and `completed` sent back to back are stored in one
 * transaction. Their acks go out in frame order once the chain is stored.
 */
export class DeviceSocket {
  readonly device: DeviceRecord;
  readonly #ws: WebSocket;
  readonly #deps: SocketDeps;
  readonly #session: DeviceSession;
  readonly #queue: Item[] = [];
  #pumping = false;
  #drained: (() => void) | undefined;
  #queuedFrames = 0;
  #queuedBytes = 0;
  #alive = true;
  readonly #together: WriteTogether;
  /** replaced by a newer connection, or the device removed: frames and wake-ups are no longer handled */
  #superseded = false;
  readonly #settled: Promise<void>;

  /** `together`: on the socket `ws` runs on (a chain's acks leave in one write); `after` is the previous connection of this device settling: it goes first. */
  constructor(ws: WebSocket, together: WriteTogether, device: DeviceRecord, deps: SocketDeps, after: Promise<void>) {
    this.#ws = ws;
    this.#together = together;
    this.device = device;
    this.#deps = deps;
    const self = this;
    this.#session = deps.core.openSession(
      device,
      {
        deliver: (command, resumed) => this.#send(commandFrame(command, resumed)),
        cancel: (commandId) => this.#send(cancelFrame(commandId)),
        get open() {
          return self.#open;
        },
        get idle() {
          return self.#ws.bufferedAmount < IDLE_BELOW;
        },
      },
      {
        schedule: (task) => this.#enqueue(task, true),
        replaced: () => this.#close(CLOSE.replaced),
        removed: () => this.#close(CLOSE.deviceRemoved),
      },
    );
    this.#enqueue(async () => {
      await after;
      if (this.#open) await this.#session.start();
    });
    this.#settled = new Promise((resolve) => {
      ws.on('close', () => {
        this.#enqueue(() => this.#session.end());
        this.#enqueue(async () => resolve());
      });
    });
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
    ws.on('pong', () => void (this.#alive = true));
    ws.on('error', (err) => deps.log.debug({ deviceId: device.id, err }, 'device connection error'));
  }

  /** this connection's identity, as the device's presence records it */
  get connectionId(): string {
    return this.#session.connectionId;
  }

  get #open(): boolean {
    return !this.#superseded && this.#ws.readyState === WebSocket.OPEN;
  }

  /** resolves when the connection is closed and its disconnect work is done */
  get settled(): Promise<void> {
    return this.#settled;
  }

  /**
   * A newer connection of this device (on this node) takes over: stop
   * handling this one's frames and wake-ups and close it. Resolves when what
   * this one already queued is done, so the newer one starts after it.
   */
  replace(): Promise<void> {
    this.#superseded = true;
    this.#session.supersede();
    this.#ws.close(CLOSE.replaced.code, CLOSE.replaced.reason);
    return this.#idle();
  }

  /** DESIGN 4, liveness: no pong since the last ping means the device is gone. */
  heartbeat(): void {
    if (!this.#alive) {
      this.#deps.log.info({ deviceId: this.device.id }, 'device missed a pong; closing its connection');
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping();
  }

  close(close: { code: number; reason: string }): void {
    this.#ws.close(close.code, close.reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  #send(text: string): Promise<boolean> {
    if (this.#ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    // Resolves once handed to the socket: the queue waits for a slow reader
    // instead of buffering without bound (DESIGN 4, backpressure).
    return new Promise((resolve) => this.#ws.send(text, (err) => resolve(!err)));
  }

  #close(close: { code: number; reason: string }): void {
    this.#superseded = true;
    this.#ws.close(close.code, close.reason);
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.#superseded) return;
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const decoded = decodeFrame(bytes, isBinary, this.#deps.limits);
    if (this.#queuedFrames >= MAX_QUEUED || this.#queuedBytes + bytes.length > MAX_QUEUED_BYTES) {
      void this.#send(nackFrame(decoded.ok ? decoded.frame.ref : decoded.ref, decoded.ok ? BUSY : decoded.error));
      return;
    }
    if (++this.#queuedFrames === PAUSE_AT) this.#ws.pause();
    this.#queuedBytes += bytes.length;
    this.#queue.push({ kind: 'frame', decoded, size: bytes.length });
    this.#pump();
  }

  #enqueue(run: () => Promise<void>, wake = false): void {
    this.#queue.push({ kind: 'task', run, wake });
    this.#pump();
  }

  #idle(): Promise<void> {
    if (!this.#pumping && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#drained;
      this.#drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    // after the current socket read: every frame ws parses from one chunk is queued first, so they form one chain
    queueMicrotask(() => this.#runQueue());
  }

  #runQueue(): void {
    void this.#run().finally(() => {
      this.#pumping = false;
      const drained = this.#drained;
      this.#drained = undefined;
      drained?.();
    });
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const frames = this.#takeFrames();
      if (frames.length > 0) {
        await this.#guard(() => this.#handleFrames(frames));
        for (const frame of frames) this.#release(frame.size);
        continue;
      }
      await this.#guard((this.#queue.shift() as Extract<Item, { kind: 'task' }>).run);
    }
  }

  /**
   * The device's next frames, ahead of the wake-ups queued before them (not of
   * the connect or disconnect work): a run of reports (one chain), or one
   * other frame; none when a task comes first. A receipt never waits behind
   * this node's own deliveries, so under load the receipt timeout does not
   * fire on a command the device has, which would only queue more deliveries.
   */
  #takeFrames(): Extract<Item, { kind: 'frame' }>[] {
    const frames: Extract<Item, { kind: 'frame' }>[] = [];
    for (let i = 0; i < this.#queue.length && frames.length < MAX_CHAIN; ) {
      const item = this.#queue[i]!;
      if (item.kind === 'task') {
        if (!item.wake) break;
        i++;
        continue;
      }
      if (frames.length > 0 && !isReport(item.decoded)) break;
      frames.push(item);
      this.#queue.splice(i, 1);
      if (!isReport(item.decoded)) break;
    }
    return frames;
  }

  async #handleFrames(frames: readonly Extract<Item, { kind: 'frame' }>[]): Promise<void> {
    // Frames read before this connection was replaced or closed are left unanswered: the device re-sends them.
    if (!this.#open) return;
    const first = frames[0]!.decoded;
    if (!first.ok) {
      this.#deps.log.debug({ deviceId: this.device.id, error: first.error }, 'device frame refused');
      await this.#send(nackFrame(first.ref, first.error));
      return;
    }
    const action = dispatch(first.frame);
    if (action.kind === 'state') {
      await this.#session.state(action.state);
      await this.#send(ackFrame(first.frame.ref));
      return;
    }
    const reports: Report[] = frames.map((f) => (dispatch((f.decoded as Extract<Decoded, { ok: true }>).frame) as { report: Report }).report);
    const answers = await this.#session.reports(reports);
    await this.#together.run(() =>
      Promise.all(
        frames.map((f, i) => {
          const ref = (f.decoded as Extract<Decoded, { ok: true }>).frame.ref;
          const answer = answers[i]!;
          return this.#send(answer.ok ? ackFrame(ref) : nackFrame(ref, answer.error));
        }),
      ),
    );
  }

  async #guard(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.#fault(err);
    }
  }

  #release(size: number): void {
    this.#queuedBytes -= size;
    if (--this.#queuedFrames === PAUSE_AT / 2 && this.#ws.isPaused) this.#ws.resume();
  }

  /** A store or core fault: the device reconnects and re-sends what was not acked (DESIGN 4). */
  #fault(err: unknown): void {
    this.#deps.log.error({ deviceId: this.device.id, err }, 'device connection fault');
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(CLOSE.internal.code, CLOSE.internal.reason);
  }
}
