import type { DeviceFrame } from '../protocol.js';
import type { HandlerContext, Staged } from './context.js';
import { settleReport } from './report.js';

/** DESIGN 4: `{"t":"canceled","ref","id"}` -> canceled (the device confirmed the cancel it was sent). */
export function canceled(frame: Extract<DeviceFrame, { t: 'canceled' }>, ctx: HandlerContext): Promise<Staged> {
  return settleReport(ctx, frame.id, 'canceledByDevice', { detail: 'the device confirmed the cancel' });
}
