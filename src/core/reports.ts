import type { StatusChange } from '../domain/change.js';
import { applyChange } from '../domain/change.js';
import type { CommandRecord } from '../domain/command.js';
import { AppiaError } from '../domain/errors.js';
import { isCommandId } from '../domain/ids.js';
import { targetOf, type LifecycleEvent } from '../domain/lifecycle.js';
import type { Status } from '../domain/status.js';
import type { CoreContext } from './context.js';
import { CAS_ROUNDS, isInternalFault, type ChangeFields, type StatusWriter } from './writer.js';

/** One report of a device about one of its commands (DESIGN 4), as the gateway read it from a frame. */
export interface Report {
  readonly commandId: string;
  /** the lifecycle event the report stands for (`received`, `completed`, ...) */
  readonly event: LifecycleEvent;
  readonly fields: ChangeFields;
  /** whether the record already says what the report says; default: it is in the status the report leads to */
  readonly isRepeat?: (command: CommandRecord) => boolean;
}

/** The answer to one report: `ack`, or `nack` with the reason. */
export type Answer = { readonly ok: true } | { readonly ok: false; readonly error: string };

export const ACK: Answer = Object.freeze({ ok: true });
export const NO_SUCH_COMMAND = 'no such command';

export function nack(error: string): Answer {
  return { ok: false, error };
}

/**
 * Applies a device's consecutive reports as one chain (DESIGN 1 and 4):
 * each is decided on the record the reports before it leave, and all the
 * changes go to the store as one ordered chain of compare-and-sets in one
 * transaction (`received` then `completed` in one commit). When the store
 * refuses a change (the command moved on: expiry, a cancel, another node),
 * the reports from that one on are read again and re-decided. Resolves with
 * one answer per report, in order, once everything it acks is stored.
 *
 * - a command that is not this device's (or does not exist) is "no such
 *   command", so other devices' ids never leak;
 * - a report that repeats what is recorded (the command is in that status,
 *   or its history shows it passed through it, as after a lost ack) is acked
 *   and changes nothing;
 * - a report on a command whose delivery was given up as failed (the
 *   receipt timeout or a dropped connection won the race) records the
 *   delivery first, then the report: the device evidently has it;
 * - a report the lifecycle refuses otherwise is nacked with its reason.
 */
export async function applyReports(ctx: CoreContext, writer: StatusWriter, deviceId: string, reports: readonly Report[]): Promise<Answer[]> {
  const answers: Answer[] = new Array(reports.length);
  let from = 0;
  for (let round = 0; from < reports.length; round++) {
    if (round > CAS_ROUNDS + reports.length) throw new AppiaError('internal', `a device's reports kept being refused by the store`);
    const plan = await planChain(ctx, writer, deviceId, reports, from, answers);
    if (plan.changes.length === 0) {
      from = plan.end;
      continue;
    }
    let refusedAt: number | undefined;
    try {
      refusedAt = (await writer.commit(plan.changes)).refusedAt;
    } catch (err) {
      if (!isInternalFault(err)) throw err;
      // Which change the store refused is unknown: apply the reports one by one, so the fault ends only its own command `error`.
      for (let i = from; i < plan.end; i++) answers[i] = answers[i] ?? (await applyAlone(writer, reports[i]!));
      from = plan.end;
      continue;
    }
    const redoFrom = refusedAt === undefined ? plan.end : plan.owners[refusedAt]!;
    for (let i = from; i < redoFrom; i++) answers[i] ??= ACK;
    for (let i = redoFrom; i < plan.end; i++) delete answers[i];
    from = redoFrom;
  }
  return answers;
}

interface Plan {
  readonly changes: StatusChange[];
  /** the report each change belongs to */
  readonly owners: number[];
  /** reports from `from` to before `end` are decided: answered, or owning changes */
  readonly end: number;
}

async function planChain(
  ctx: CoreContext,
  writer: StatusWriter,
  deviceId: string,
  reports: readonly Report[],
  from: number,
  answers: Answer[],
): Promise<Plan> {
  const changes: StatusChange[] = [];
  const owners: number[] = [];
  /** per command: the record as this chain leaves it (fresh from the store on first use) */
  const working = new Map<string, CommandRecord | undefined>();
  const touched = new Set<string>();
  for (let i = from; i < reports.length; i++) {
    const report = reports[i]!;
    const id = report.commandId;
    if (!working.has(id)) working.set(id, isCommandId(id) ? await ctx.store.getCommandById(id.toUpperCase()) : undefined);
    const command = working.get(id);
    // the device a command belongs to never changes
    if (!command || command.deviceId !== deviceId) {
      answers[i] = nack(NO_SUCH_COMMAND);
      continue;
    }
    if ((report.isRepeat ?? isInTarget(report.event))(command)) {
      answers[i] = ACK;
      continue;
    }
    const decided = writer.decide(command, report.event, report.fields);
    if (decided.ok) {
      changes.push(decided.change);
      owners.push(i);
      working.set(id, applyChange(command, decided.change));
      touched.add(id);
      continue;
    }
    const redelivery = deliveredAfterAll(writer, command, report);
    if (redelivery) {
      for (const change of redelivery) {
        changes.push(change);
        owners.push(i);
      }
      working.set(id, applyChange(applyChange(command, redelivery[0]), redelivery[1]));
      touched.add(id);
      continue;
    }
    // Refused on a record this chain changed: store what comes before, then decide it on the stored record.
    if (touched.has(id)) return { changes, owners, end: i };
    answers[i] = await refusal(ctx, command, report, decided.reason);
  }
  return { changes, owners, end: reports.length };
}

/**
 * A report on a command whose delivery was given up as failed while it was
 * on its way (it was sent before, and may be sent again): the device has it,
 * so its honest report must not be refused. Records `sent`, then the report.
 */
function deliveredAfterAll(writer: StatusWriter, command: CommandRecord, report: Report): [StatusChange, StatusChange] | undefined {
  if (command.attempts === 0) return undefined;
  const sent = writer.decide(command, 'sent', { detail: 'the device reported on it after a retry was scheduled' });
  if (!sent.ok) return undefined;
  const then = writer.decide(applyChange(command, sent.change), report.event, report.fields);
  return then.ok ? [sent.change, then.change] : undefined;
}

/** A refused report: a repeat when the history shows the command passed through its status; else a nack with the reason. */
async function refusal(ctx: CoreContext, command: CommandRecord, report: Report, reason: string): Promise<Answer> {
  const history = await ctx.store.listHistory(command.id);
  const target = targetOfReport(report.event);
  if (history.some((entry) => entry.status === target)) return ACK;
  // DESIGN 3: a refused report is answered as such and logged; the record is untouched.
  ctx.log.warn({ deviceId: command.deviceId, commandId: command.id, event: report.event, status: command.status, reason }, 'device report refused');
  return nack(reason);
}

/** A single report whose chain the store faulted on: the writer's own path ends a faulty command `error`. */
async function applyAlone(writer: StatusWriter, report: Report): Promise<Answer> {
  const result = await writer.apply(report.commandId.toUpperCase(), report.event, report.fields);
  return result.ok ? ACK : nack(result.reason);
}

/** Whether the command is in the status `event` leads to (a report's default repeat test). */
export const isInTarget = (event: LifecycleEvent) => (command: CommandRecord) => command.status === targetOfReport(event);

const reportTargets = new Map<LifecycleEvent, Status>();

/** The one status a device report leads to, whatever it came from (received -> executing, ...). */
function targetOfReport(event: LifecycleEvent): Status {
  let target = reportTargets.get(event);
  if (target === undefined) {
    const [only, ...others] = targetOf(event);
    if (only === undefined || others.length > 0) throw new Error(`the report ${event} must lead to exactly one status`);
    reportTargets.set(event, (target = only));
  }
  return target;
}
