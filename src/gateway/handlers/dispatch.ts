import type { DeviceFrame } from '../protocol.js';
import { canceled } from './canceled.js';
import { completed } from './completed.js';
import type { HandlerContext, Staged } from './context.js';
import { dropped } from './dropped.js';
import { failed } from './failed.js';
import { progress } from './progress.js';
import { received } from './received.js';
import { state } from './state.js';

/**
 * The one dispatch for device frames (DESIGN 4). Authentication comes first
 * by construction: a HandlerContext only exists for a connection whose
 * device token was accepted at the upgrade, and every handler checks the
 * command against that device.
 */
export function dispatch(frame: DeviceFrame, ctx: HandlerContext): Promise<Staged> {
  switch (frame.t) {
    case 'received':
      return received(frame, ctx);
    case 'progress':
      return progress(frame, ctx);
    case 'completed':
      return completed(frame, ctx);
    case 'failed':
      return failed(frame, ctx);
    case 'dropped':
      return dropped(frame, ctx);
    case 'canceled':
      return canceled(frame, ctx);
    case 'state':
      return state(frame, ctx);
    default:
      return unreachable(frame);
  }
}

function unreachable(frame: never): never {
  throw new Error(`no handler for frame ${JSON.stringify(frame)}`);
}
