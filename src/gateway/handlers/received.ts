import type { DeviceFrame } from '../protocol.js';
import type { HandlerContext, Staged } from './context.js';
import { settleReport } from './report.js';

/** DESIGN 4: `{"t":"received","ref","id"}` -> executing (the device acknowledged receipt). */
export function received(frame: Extract<DeviceFrame, { t: 'received' }>, ctx: HandlerContext): Promise<Staged> {
  return settleReport(ctx, frame.id, 'received', {});
}
