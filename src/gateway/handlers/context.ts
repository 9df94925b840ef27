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
}

/** The answer to one report: `ack`, or `nack` with the reason. */
export type Answer = { readonly ok: true } | { readonly ok: false; readonly error: string };

export const ACK: Answer = Object.freeze({ ok: true });

export function nack(error: string): Answer {
  return { ok: false, error };
}
