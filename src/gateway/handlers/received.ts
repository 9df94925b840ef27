import type { DeviceFrame } from '../protocol.js';
import type { Answer, HandlerContext } from './context.js';
import { settleReport } from './report.js';

/** DESIGN 4: `{"t":"received","ref","id"}` -> executing (the device acknowledged receipt). */
export function received(frame: Extract<DeviceFrame, { t: 'received' }>, ctx: HandlerContext): Promise<Answer> {
  return settleReport(ctx, frame.id, 'received', {});
}
