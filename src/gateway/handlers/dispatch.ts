import type { Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';
import { canceled } from './canceled.js';
import { completed } from './completed.js';
import { dropped } from './dropped.js';
import { failed } from './failed.js';
import { progress } from './progress.js';
import { received } from './received.js';
import { state } from './state.js';

/** What a frame asks of the core: a report about a command, or the device's state. */
export type FrameAction = { readonly kind: 'report'; readonly report: Report } | { readonly kind: 'state'; readonly state: 'active' | 'standby' };

/**
 * The one dispatch for device frames (DESIGN 4). Authentication comes first
 * by construction: frames are only read on a connection whose device token
 * was accepted at the upgrade, and the core checks every report's command
 * against that connection's device.
 */
export function dispatch(frame: DeviceFrame): FrameAction {
  switch (frame.t) {
    case 'received':
      return { kind: 'report', report: received(frame) };
    case 'progress':
      return { kind: 'report', report: progress(frame) };
    case 'completed':
      return { kind: 'report', report: completed(frame) };
    case 'failed':
      return { kind: 'report', report: failed(frame) };
    case 'dropped':
      return { kind: 'report', report: dropped(frame) };
    case 'canceled':
      return { kind: 'report', report: canceled(frame) };
    case 'state':
      return { kind: 'state', ...state(frame) };
    default:
      return unreachable(frame);
  }
}

function unreachable(frame: never): never {
  throw new Error(`no handler for frame ${JSON.stringify(frame)}`);
}
