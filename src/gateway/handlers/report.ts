import { isCommandId } from '../../domain/ids.js';
import { targetOf, transition, type LifecycleEvent } from '../../domain/lifecycle.js';
import type { CommandRecord } from '../../domain/command.js';
import type { Status } from '../../domain/status.js';
import type { ChangeFields } from '../../service/engine.js';
import { ACK, nack, type Answer, type HandlerContext } from './context.js';

export const NO_SUCH_COMMAND = 'no such command';

/** The one status a device report leads to, whatever it came from (received -> executing, ...). */
function targetOfReport(event: LifecycleEvent): Status {
  const [only, ...others] = targetOf(event);
  if (only === undefined || others.length > 0) throw new Error(`the report ${event} must lead to exactly one status`);
  return only;
}

/**
 * Records one command report of the connected device through the engine and
 * says how to answer it (DESIGN 4):
 * - a command that is not this device's (or does not exist) is "no such
 *   command", so other devices' ids never leak;
 * - a report that repeats what is recorded (the command is already in the
 *   status the report leads to, or went through it and moved on, as after a
 *   lost ack) is acked again and changes nothing;
 * - a report on a command in `retry` (its delivery was given up as failed,
 *   yet the device has it) records the delivery first, then the report;
 * - a report the lifecycle refuses otherwise is nacked with its reason.
 * The ack is only given once `engine.apply` has resolved, i.e. once the
 * change is durably stored.
 *
 * `isRepeat` decides whether the current record already says what the report
 * says; by default, being in the target status.
 */
export async function settleReport(
  ctx: HandlerContext,
  commandId: string,
  event: LifecycleEvent,
  fields: ChangeFields,
  isRepeat: (command: CommandRecord) => boolean = (command) => command.status === targetOfReport(event),
): Promise<Answer> {
  if (!isCommandId(commandId)) return nack(NO_SUCH_COMMAND);
  const command = await ctx.engine.store.getCommandById(commandId);
  if (!command || command.deviceId !== ctx.device.id) return nack(NO_SUCH_COMMAND);
  if (isRepeat(command)) return ACK;

  let result = await ctx.engine.apply(commandId, event, fields, command);
  if (!result.ok && result.command?.status === 'retry' && transition('sentToTarget', event).ok) {
    // The device reports on a command whose delivery was given up as failed
    // (the receipt timeout or a dropped connection won the race with its
    // report): it evidently has it, so record the delivery, then the report.
    const delivered = await ctx.engine.apply(commandId, 'sent', { detail: 'the device reported on it after a retry was scheduled' }, result.command);
    result = delivered.ok ? await ctx.engine.apply(commandId, event, fields, delivered.command) : delivered;
  }
  if (result.ok) return ACK;
  if (!result.command) return nack(NO_SUCH_COMMAND);
  if (isRepeat(result.command) || (await wentThrough(ctx, commandId, targetOfReport(event)))) return ACK;

  // DESIGN 3: a refused report is answered as such and logged; the record is untouched.
  ctx.log.warn({ deviceId: ctx.device.id, commandId, event, status: result.command.status, reason: result.reason }, 'device report refused');
  return nack(result.reason);
}

/** Whether the command's history shows it in `status` before it moved further along. */
async function wentThrough(ctx: HandlerContext, commandId: string, status: Status): Promise<boolean> {
  const history = await ctx.engine.store.listHistory(commandId);
  return history.some((entry) => entry.status === status);
}
