import type { DeviceFrame } from '../protocol.js';
import type { HandlerContext, Staged } from './context.js';
import { settleReport } from './report.js';

/**
 * DESIGN 4: `{"t":"progress","ref","id","customStatus"}` -> custom.
 * custom -> custom is a real change when the text differs, so a repeat is
 * only the same text while the command is still `custom` (as when the ack of
 * the latest progress report was lost).
 */
export function progress(frame: Extract<DeviceFrame, { t: 'progress' }>, ctx: HandlerContext): Promise<Staged> {
  return settleReport(ctx, frame.id, 'progress', { customStatus: frame.customStatus }, (command) => {
    return command.status === 'custom' && command.customStatus === frame.customStatus;
  });
}
