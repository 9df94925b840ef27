import { isInTarget, type Report } from '../../core/reports.js';
import type { DeviceFrame } from '../protocol.js';

const inProgressStatus = isInTarget('progress');

/**
 * DESIGN 4: `{"t":"progress","ref","id","customStatus"}` -> custom.
 * custom -> custom is a real change when the text differs, so a repeat is
 * only the same text while the command is still in that status (as when the
 * ack of the latest progress report was lost).
 */
export function progress(frame: Extract<DeviceFrame, { t: 'progress' }>): Report {
  return {
    commandId: frame.id,
    event: 'progress',
    fields: { customStatus: frame.customStatus },
    isRepeat: (command) => inProgressStatus(command) && command.customStatus === frame.customStatus,
  };
}
