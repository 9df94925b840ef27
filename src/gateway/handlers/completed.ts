import type { DeviceFrame } from '../protocol.js';
import type { HandlerContext, Staged } from './context.js';
import { settleReport } from './report.js';

/**
 * DESIGN 4: `{"t":"completed","ref","id","responsePayload"}` -> completed.
 * protocol.ts already checked the answer is an object within the payload and
 * depth limits; its JSON text is stored as is. A second `completed` is a
 * repeat and keeps the first answer.
 */
export function completed(frame: Extract<DeviceFrame, { t: 'completed' }>, ctx: HandlerContext): Promise<Staged> {
  return settleReport(ctx, frame.id, 'completed', { responsePayloadJson: frame.responsePayloadJson });
}
