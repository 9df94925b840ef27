import { isCommandId } from '../../domain/ids.js';
import { targetOf, transition, type LifecycleEvent } from '../../domain/lifecycle.js';
import type { CommandRecord } from '../../domain/command.js';
import type { Status } from '../../domain/status.js';
import type { ApplyResult, ChangeFields } from '../../service/engine.js';
import { ACK, answered, nack, type Answer, type HandlerContext, type Staged } from './context.js';

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
 * The ack is only given once the change is durably stored.
 *
 * Pipelined (a device sends `received` and `completed` back to back): this
 * resolves as soon as the report's store write is queued, and `finish` waits
 * for its commit. So the next report can be decided and queued into the same
 * group commit. It is decided on the record the earlier, still uncommitted
 * reports will produce (`engine.predicted`); the compare-and-set keeps that
 * correct: when an earlier write lost its race, this one loses too (or was
 * valid on the stored status anyway), and `finish` re-decides from the store
 * in frame order. A report the lifecycle refuses, or one on a command whose
 * earlier report is no longer predicted but not yet answered, first waits
 * for every earlier frame to be answered and is then handled on its own.
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
): Promise<Staged> {
  if (!isCommandId(commandId)) return answered(nack(NO_SUCH_COMMAND));
  const { engine } = ctx;
  let command = engine.predicted(commandId);
  const held = command && engine.predictionHeld(commandId);
  if (!command) {
    if (ctx.unanswered?.(commandId)) await ctx.earlierAnswered?.();
    command = await engine.store.getCommandById(commandId);
  }
  // the device a command belongs to never changes, whatever is in flight
  if (!command || command.deviceId !== ctx.device.id) return answered(nack(NO_SUCH_COMMAND));
  const redo = () => settleAlone(ctx, commandId, event, fields, isRepeat);
  if (isRepeat(command)) {
    if (!held) return answered(ACK);
    return { finish: async () => ((await held) ? ACK : redo()) };
  }
  if (transition(command.status, event).ok) {
    const attempt = engine.tryApply(event, fields, command);
    // awaited in `finish`, after the earlier frames' answers: a store fault must not count as unhandled meanwhile
    attempt.catch(() => {});
    return {
      finish: async () => {
        const result = await attempt;
        return result === undefined ? redo() : conclude(ctx, commandId, event, fields, isRepeat, result);
      },
    };
  }
  // refused as it stands: not the hot path; handle it on its own, in order
  await ctx.earlierAnswered?.();
  return answered(await settleAlone(ctx, commandId, event, fields, isRepeat));
}

/** The report handled from a fresh read of the store, with nothing of this connection before it in flight. */
async function settleAlone(
  ctx: HandlerContext,
  commandId: string,
  event: LifecycleEvent,
  fields: ChangeFields,
  isRepeat: (command: CommandRecord) => boolean,
): Promise<Answer> {
  const command = await ctx.engine.store.getCommandById(commandId);
  if (!command || command.deviceId !== ctx.device.id) return nack(NO_SUCH_COMMAND);
  if (isRepeat(command)) return ACK;
  const result = await ctx.engine.apply(commandId, event, fields, command);
  return conclude(ctx, commandId, event, fields, isRepeat, result);
}

/** The answer to a report once the engine has applied (or refused) it. */
async function conclude(
  ctx: HandlerContext,
  commandId: string,
  event: LifecycleEvent,
  fields: ChangeFields,
  isRepeat: (command: CommandRecord) => boolean,
  applied: ApplyResult,
): Promise<Answer> {
  let result = applied;
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
