import type { DeviceFrame } from '../protocol.js';
import { ACK, type Answer, type HandlerContext } from './context.js';

/**
 * DESIGN 4: `{"t":"state","ref","state":"active"|"standby"}` -> the device's
 * `status` Online / Standby, with `lastSeenDateTime` now. Acked once stored.
 */
export async function state(frame: Extract<DeviceFrame, { t: 'state' }>, ctx: HandlerContext): Promise<Answer> {
  const presence = frame.state === 'active' ? 'Online' : 'Standby';
  await ctx.engine.store.setDevicePresence(ctx.device.id, presence, ctx.engine.now());
  return ACK;
}
