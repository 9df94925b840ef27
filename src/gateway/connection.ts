import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, type RawData } from 'ws';
import { subjects, type BusMessage } from '../bus/bus.js';
import type { DeviceRecord } from '../domain/device.js';
import type { Engine } from '../service/engine.js';
import { deliverCancel, deliverCommand, deliverOpenCommands, failUnreceived, type Outlet } from './delivery.js';
import { answered, nack, type HandlerContext, type Staged } from './handlers/context.js';
import { dispatch } from './handlers/dispatch.js';
import { ackFrame, decodeFrame, nackFrame, type FrameLimits } from './protocol.js';

export interface ConnectionDeps {
  readonly engine: Engine;
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

/**
 * One device's live connection (DESIGN 4). Everything it does runs through
 * one queue, in order: first the connect work (presence, then the open
 * commands), then the device's frames and the bus's wake-ups as they come,
 * and last the disconnect work. So a re-sent report is always handled after
 * the re-delivery of its command, and the disconnect never races a report.
 *
 * Reports are pipelined: a frame's first phase (decode, decide, queue its
 * store write) runs on the queue, its second (await the commit, send the ack
 * or nack) on a separate chain of answers, in frame order. The queue goes on
 * to the next frame once the first phase is done, so reports sent back to
 * back (`received`, then `completed`) land in one group commit. Every other
 * task (connect, wake-ups, disconnect, `state` frames, refused reports) waits
 * until every earlier frame is answered, so its order is as strict as before.
 */
export class DeviceConnection implements Outlet {
  readonly device: DeviceRecord;
  readonly #ws: WebSocket;
  readonly #deps: ConnectionDeps;
  readonly #ctx: HandlerContext;
  #unsubscribe: (() => void) | undefined;
  #tail: Promise<void>;
  /** the second phases of frames: answers sent in frame order */
  #answers: Promise<void> = Promise.resolve();
  /** per command id: frames about it whose answer is not sent yet */
  readonly #unanswered = new Map<string, number>();
  #queued = 0;
  #queuedBytes = 0;
  #alive = true;
  /** replaced by a newer connection, or the device removed: this one no longer owns delivery */
  #superseded = false;
  readonly #settled: Promise<void>;

  /** `after` is the previous connection of this device settling: it goes first. */
  constructor(ws: WebSocket, device: DeviceRecord, deps: ConnectionDeps, after: Promise<void>) {
    this.#ws = ws;
    this.device = device;
    this.#deps = deps;
    this.#ctx = {
      engine: deps.engine,
      device,
      log: deps.log,
      earlierAnswered: () => this.#answers,
      unanswered: (commandId) => this.#unanswered.has(commandId),
    };
    this.#tail = after.then(() => this.#start()).catch((err: unknown) => this.#fault(err));
    this.#settled = new Promise((resolve) => {
      ws.on('close', () => {
        this.#stopListening();
        this.#enqueue(() => this.#disconnected());
        resolve(this.#tail);
      });
    });
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
    ws.on('pong', () => void (this.#alive = true));
    ws.on('error', (err) => deps.log.debug({ deviceId: device.id, err }, 'device connection error'));
    // Subscribed before the open commands are read, so nothing created meanwhile is missed.
    const subscription = deps.engine.bus.subscribe(subjects.device(device.id), (message) => this.#onBus(message));
    this.#unsubscribe = () => subscription.unsubscribe();
  }

  get ownsDelivery(): boolean {
    return !this.#superseded;
  }

  get open(): boolean {
    return !this.#superseded && this.#ws.readyState === WebSocket.OPEN;
  }

  /** resolves when the connection is closed and its disconnect work is done */
  get settled(): Promise<void> {
    return this.#settled;
  }

  send(text: string): Promise<boolean> {
    if (this.#ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    // Resolves once handed to the socket: the queue waits for a slow reader
    // instead of buffering without bound (DESIGN 4, backpressure).
    return new Promise((resolve) => this.#ws.send(text, (err) => resolve(!err)));
  }

  /**
   * A newer connection of this device takes over: stop handling this one's
   * frames and wake-ups and close it. Resolves when what this one already
   * queued is done, so the newer one starts after it.
   */
  replace(): Promise<void> {
    this.#superseded = true;
    this.#stopListening();
    this.#ws.close(CLOSE.replaced.code, CLOSE.replaced.reason);
    return this.#tail.then(() => this.#answers);
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

  async #start(): Promise<void> {
    if (!this.open) return;
    const { engine } = this.#deps;
    // The token was checked at the upgrade; a removal since then would have been missed on the bus.
    if (!(await engine.store.getDevice(this.device.userId, this.device.id))) return this.#removed();
    await engine.store.setDevicePresence(this.device.id, 'Online', engine.now());
    await deliverOpenCommands(engine, this.device.id, this);
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.#superseded) return;
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const decoded = decodeFrame(bytes, isBinary, this.#deps.limits);
    const size = bytes.length;
    if (this.#queued >= MAX_QUEUED || this.#queuedBytes + size > MAX_QUEUED_BYTES) {
      void this.send(nackFrame(decoded.ok ? decoded.frame.ref : decoded.ref, decoded.ok ? BUSY : decoded.error));
      return;
    }
    if (++this.#queued === PAUSE_AT) this.#ws.pause();
    this.#queuedBytes += size;
    const release = () => {
      this.#queuedBytes -= size;
      if (--this.#queued === PAUSE_AT / 2 && this.#ws.isPaused) this.#ws.resume();
    };
    const commandId = decoded.ok && 'id' in decoded.frame ? decoded.frame.id : undefined;
    this.#tail = this.#tail
      .then(async () => {
        let staged: Staged;
        try {
          if (decoded.ok) staged = await dispatch(decoded.frame, this.#ctx);
          else {
            this.#deps.log.debug({ deviceId: this.device.id, error: decoded.error }, 'device frame refused');
            staged = answered(nack(decoded.error));
          }
        } catch (err) {
          release();
          throw err;
        }
        if (commandId !== undefined) this.#unanswered.set(commandId, (this.#unanswered.get(commandId) ?? 0) + 1);
        this.#answers = this.#answers
          .then(async () => {
            try {
              const answer = await staged.finish();
              if (!decoded.ok) await this.send(nackFrame(decoded.ref, decoded.error));
              else await this.send(answer.ok ? ackFrame(decoded.frame.ref) : nackFrame(decoded.frame.ref, answer.error));
            } finally {
              if (commandId !== undefined) {
                const left = this.#unanswered.get(commandId)! - 1;
                if (left > 0) this.#unanswered.set(commandId, left);
                else this.#unanswered.delete(commandId);
              }
              release();
            }
          })
          .catch((err: unknown) => this.#fault(err));
      })
      .catch((err: unknown) => this.#fault(err));
  }

  #onBus(message: BusMessage): void {
    const { engine } = this.#deps;
    switch (message.kind) {
      case 'deliver':
        return this.#enqueue(() => deliverCommand(engine, this.device.id, message.commandId, this));
      case 'cancel':
        return this.#enqueue(() => deliverCancel(engine, this.device.id, message.commandId, this));
      case 'deviceRemoved':
        return this.#removed();
      case 'status':
        return;
    }
  }

  /** The engine ends the removed device's commands; this connection only closes. */
  #removed(): void {
    this.#superseded = true;
    this.#ws.close(CLOSE.deviceRemoved.code, CLOSE.deviceRemoved.reason);
  }

  async #disconnected(): Promise<void> {
    if (this.#superseded) return;
    const { engine } = this.#deps;
    await engine.store.setDevicePresence(this.device.id, 'Offline', engine.now());
    await failUnreceived(engine, this.device.id);
  }

  /** once only: a second call of a bus's unsubscribe function must not be relied on to be harmless */
  #stopListening(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** a task that is not a frame: it starts once every earlier frame is answered */
  #enqueue(task: () => Promise<void>): void {
    this.#tail = this.#tail
      .then(() => this.#answers)
      .then(task)
      .catch((err: unknown) => this.#fault(err));
  }

  /** A store or engine fault: the device reconnects and re-sends what was not acked (DESIGN 4). */
  #fault(err: unknown): void {
    this.#deps.log.error({ deviceId: this.device.id, err }, 'device connection fault');
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(CLOSE.internal.code, CLOSE.internal.reason);
  }
}
