import type { Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';

/** DESIGN 4: `{"t":"received","ref","id"}` -> executing (the device acknowledged receipt). */
export function received(frame: Extract<DeviceFrame, { t: 'received' }>): Report {
  return { commandId: frame.id, event: 'received', fields: {} };
}
