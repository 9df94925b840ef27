import type { Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';

/** DESIGN 4: `{"t":"dropped","ref","id"}` -> commandDropped (standby / ConnectedStandby). */
export function dropped(frame: Extract<DeviceFrame, { t: 'dropped' }>): Report {
  return { commandId: frame.id, event: 'dropped', fields: { detail: 'dropped by the device' } };
}
