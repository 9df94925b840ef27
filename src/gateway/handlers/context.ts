import type { FastifyBaseLogger } from 'fastify';
import type { DeviceRecord } from '../../domain/device.js';
import type { Engine } from '../../service/engine.js';

/**
 * What a frame handler works with. `device` is the device whose token opened
 * the connection: a handler only ever exists behind an authenticated upgrade
 * (DESIGN 4), so every report is checked against it.
 */
export interface HandlerContext {
  readonly engine: Engine;
  readonly device: DeviceRecord;
  readonly log: FastifyBaseLogger;
  /**
   * Pipelining of a connection's reports (see settleReport): resolves once
   * every earlier frame of the connection is answered. Absent: frames are
   * handled one at a time, so there is nothing to wait for.
   */
  readonly earlierAnswered?: () => Promise<void>;
  /** whether an earlier frame about this command is not answered yet */
  readonly unanswered?: (commandId: string) => boolean;
}

/** The answer to one report: `ack`, or `nack` with the reason. */
export type Answer = { readonly ok: true } | { readonly ok: false; readonly error: string };

export const ACK: Answer = Object.freeze({ ok: true });

export function nack(error: string): Answer {
  return { ok: false, error };
}

/**
 * A frame handled up to the point where its store write (if any) is queued.
 * `finish` gives the answer once that write is durably committed; the caller
 * calls it in frame order, after the earlier frames' `finish` has resolved.
 */
export interface Staged {
  readonly finish: () => Promise<Answer>;
}

export function answered(answer: Answer): Staged {
  return { finish: () => Promise.resolve(answer) };
}
