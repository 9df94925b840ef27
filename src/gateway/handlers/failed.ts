import type { DeviceFrame } from '../protocol.js';
import type { HandlerContext, Staged } from './context.js';
import { settleReport } from './report.js';

/** DESIGN 4: `{"t":"failed","ref","id","error"}` -> executionFailed, with the device's error text. */
export function failed(frame: Extract<DeviceFrame, { t: 'failed' }>, ctx: HandlerContext): Promise<Staged> {
  return settleReport(ctx, frame.id, 'failed', { error: frame.error });
}
