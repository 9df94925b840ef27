import type { Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';

/** DESIGN 4: `{"t":"failed","ref","id","error"}` -> executionFailed, with the device's error text. */
export function failed(frame: Extract<DeviceFrame, { t: 'failed' }>): Report {
  return { commandId: frame.id, event: 'failed', fields: { error: frame.error } };
}
