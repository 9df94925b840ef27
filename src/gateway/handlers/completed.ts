import type { Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';

/**
 * DESIGN 4: `{"t":"completed","ref","id","responsePayload"}` -> completed.
 * protocol.ts already checked the answer is an object within the payload and
 * depth limits; its JSON text is stored as is. A second `completed` is a
 * repeat and keeps the first answer.
 */
export function completed(frame: Extract<DeviceFrame, { t: 'completed' }>): Report {
  return { commandId: frame.id, event: 'completed', fields: { responsePayloadJson: frame.responsePayloadJson } };
}
