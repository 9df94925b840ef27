import type { DeviceFrame } from '../protocol.js';
import { ACK, answered, type HandlerContext, type Staged } from './context.js';

/**
 * DESIGN 4: `{"t":"state","ref","state":"active"|"standby"}` -> the device's
 * `status` Online / Standby, with `lastSeenDateTime` now. Acked once stored.
 */
export async function state(frame: Extract<DeviceFrame, { t: 'state' }>, ctx: HandlerContext): Promise<Staged> {
  const presence = frame.state === 'active' ? 'Online' : 'Standby';
  await ctx.engine.store.setDevicePresence(ctx.device.id, presence, ctx.engine.now());
  return answered(ACK);
}
