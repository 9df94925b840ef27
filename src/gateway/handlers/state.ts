import type { DeviceFrame } from '../protocol.js';

/** DESIGN 4: `{"t":"state","ref","state":"active"|"standby"}` -> the device's `status` Online / Standby. */
export function state(frame: Extract<DeviceFrame, { t: 'state' }>): { readonly state: 'active' | 'standby' } {
  return { state: frame.state };
}
