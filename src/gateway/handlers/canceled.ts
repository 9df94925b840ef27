import type { Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';

/** DESIGN 4: `{"t":"canceled","ref","id"}` -> canceled (the device confirmed the cancel it was sent). */
export function canceled(frame: Extract<DeviceFrame, { t: 'canceled' }>): Report {
  return { commandId: frame.id, event: 'canceledByDevice', fields: { detail: 'the device confirmed the cancel' } };
}
