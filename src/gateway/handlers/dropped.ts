import type { DeviceFrame } from '../protocol.js';
import type { HandlerContext, Staged } from './context.js';
import { settleReport } from './report.js';

/** DESIGN 4: `{"t":"dropped","ref","id"}` -> commandDropped (standby / ConnectedStandby). */
export function dropped(frame: Extract<DeviceFrame, { t: 'dropped' }>, ctx: HandlerContext): Promise<Staged> {
  return settleReport(ctx, frame.id, 'dropped', { detail: 'dropped by the device' });
}
