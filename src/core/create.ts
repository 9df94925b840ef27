import { createHash } from 'node:crypto';
import { subjects } from '../bus/bus.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import { INITIAL_STATUS } from '../domain/lifecycle.js';
import type { NewCommand } from '../store/store.js';
import { IDEMPOTENCY_TTL_MS, MAX_TTL_MS, type CoreContext } from './context.js';
import type { DeviceSession } from './session.js';
import type { StatusWriter } from './writer.js';

/** What a caller asked for, already validated by http/ (or a test). */
export type CommandInput = Pick<
  NewCommand,
  'type' | 'payloadJson' | 'appServiceName' | 'packageFamilyName' | 'permissionTicket' | 'postBackUri'
> & {
  /** epoch ms; undefined = now + the default TTL */
  readonly expiresAt?: number;
};

export interface CreateCommandOptions {
  /** DESIGN 2: a retried create with the same key returns the first command */
  readonly idempotencyKey?: string;
}

/**
 * Stores a new command (`requesting`, DESIGN 3) and wakes the node holding
 * its device's connection. The store refuses a device that is not the
 * user's (`notFound`) and the open-command limit (`tooManyOpen`) in the same
 * transaction.
 *
 * The direct path: when `local`, the device's connection on this node, can
 * send it now (DeviceSession.sendsNow), the `sent` change is stored in the
 * same transaction, right after the command's `requesting`, and the command
 * is written without a wake-up: one commit instead of two. The history, the
 * postbacks and the compare-and-set are those of the queued path.
 */
export async function createCommand(
  ctx: CoreContext,
  writer: StatusWriter,
  userId: string,
  deviceId: string,
  input: CommandInput,
  options: CreateCommandOptions = {},
  local?: DeviceSession,
): Promise<{ command: CommandRecord; created: boolean }> {
  const now = ctx.now();
  const expiresAt = expiryOf(ctx, input, now);
  const key = options.idempotencyKey;
  const id = ctx.ids.commandId(now);
  const direct = local?.sendsNow(expiresAt) ? local : undefined;
  const sent = direct && writer.decide({ id, status: INITIAL_STATUS, attempts: 0 }, 'sent');
  const result = await ctx.store.createCommand(
    { ...commandFields(input), id, userId, deviceId, createdAt: now, expiresAt },
    {
      ...(key === undefined
        ? {}
        : { idempotencyKey: key, idempotencyExpiresAt: now + IDEMPOTENCY_TTL_MS, idempotencyFingerprint: fingerprint(deviceId, input) }),
      maxOpen: ctx.timings.maxOpenCommands,
      // the device's latest connection must still be this one (not a reconnect, here or on another node)
      ...(direct && sent?.ok ? { chain: [sent.change], chainConnection: direct.connectionId } : {}),
    },
  );
  if (!result.created || !result.history) return { command: result.command, created: false };
  const delivered = result.chain?.applied[0];
  if (delivered === undefined || direct === undefined) {
    // queued: newer commands wait behind its wake-up
    local?.expectWake(result.command.id);
    announceCreated(ctx, writer, result.command, result.history);
    return { command: result.command, created: true };
  }
  announceCreated(ctx, writer, result.command, result.history, false);
  writer.announce(delivered.command, delivered.history);
  direct.sendNow(delivered.command);
  return { command: delivered.command, created: true };
}

/** A new command is stored: metrics, the owner's watchers, and (`wake`) a wake-up for the node holding its device (a batch's too). */
export function announceCreated(ctx: CoreContext, writer: StatusWriter, command: CommandRecord, history: HistoryEntry, wake = true): void {
  ctx.observer?.created(command);
  writer.announce(command, history);
  if (wake) ctx.bus.publish(subjects.device(command.deviceId), { kind: 'deliver', deviceId: command.deviceId, commandId: command.id });
}

/** DESIGN 2: the asked expiry, else now + the default TTL */
export function expiryOf(ctx: CoreContext, input: CommandInput, now: number): number {
  return input.expiresAt ?? now + (ctx.timings.defaultTtlMs || MAX_TTL_MS);
}

export function commandFields(input: CommandInput): Omit<NewCommand, 'id' | 'userId' | 'deviceId' | 'createdAt' | 'expiresAt'> {
  return {
    type: input.type,
    payloadJson: input.payloadJson,
    appServiceName: input.appServiceName,
    packageFamilyName: input.packageFamilyName,
    permissionTicket: input.permissionTicket,
    postBackUri: input.postBackUri,
  };
}

/**
 * DESIGN 2: what an idempotency key is bound to: the device and the request
 * as the core received it (an explicit expiry counts; the default one, which
 * moves with the clock, does not).
 */
function fingerprint(deviceId: string, input: CommandInput): string {
  return requestFingerprint(deviceId, input);
}

/** What an idempotency key is bound to: the target (a device id, or a batch's selection) and the request. */
export function requestFingerprint(target: unknown, input: CommandInput): string {
  const bound = [target, ...Object.values(commandFields(input)), input.expiresAt ?? null];
  return createHash('sha256').update(JSON.stringify(bound)).digest('base64url');
}
