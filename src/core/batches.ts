import { subjects } from '../bus/bus.js';
import { isBatchDone, type BatchRecord } from '../domain/batch.js';
import type { CommandRecord } from '../domain/command.js';
import { AppiaError, isAppiaError } from '../domain/errors.js';
import { isFinal } from '../domain/policy.js';
import type { BatchCommandQuery } from '../store/store.js';
import { cancelCommand } from './cancel.js';
import { IDEMPOTENCY_TTL_MS, type CoreContext } from './context.js';
import { announceCreated, commandFields, expiryOf, requestFingerprint, type CommandInput, type CreateCommandOptions } from './create.js';
import type { StatusWriter } from './writer.js';

/** DESIGN 9: which devices a batch goes to: listed ids, or all of the caller's (optionally of one kind). */
export type BatchTargets = { readonly deviceIds: readonly string[] } | { readonly all: true; readonly kind?: string };

/** how many devices are read per page when a batch goes to all of them */
const DEVICE_PAGE = 1000;
/** how many cancels of one batch (or device queue) are in flight at once: they share group commits */
const CANCELS_IN_FLIGHT = 64;
/** a batch wait counts again at most this often while its commands change */
const RECOUNT_MS = 100;
/** and at least this often without a wake-up (a lost bus message only delays it, DESIGN 1) */
const RECHECK_MS = 2000;

/**
 * Creates a batch (DESIGN 9): one ordinary command per device, all stored in
 * one transaction, then each announced and delivered as a single create's
 * is. Refused `tooLarge` past APPIA_MAX_BATCH_DEVICES before anything is
 * stored; a listed device that is not the caller's is `notFound` (the store
 * checks it in the same transaction, so nothing is created).
 */
export async function createBatch(
  ctx: CoreContext,
  writer: StatusWriter,
  userId: string,
  targets: BatchTargets,
  input: CommandInput,
  options: CreateCommandOptions = {},
): Promise<{ batch: BatchRecord; created: boolean }> {
  const deviceIds = 'deviceIds' in targets ? [...new Set(targets.deviceIds)] : await allDeviceIds(ctx, userId, targets.kind);
  const max = ctx.timings.maxBatchDevices ?? 0;
  if (max > 0 && deviceIds.length > max) {
    throw new AppiaError('tooLarge', `a batch may go to at most ${max} devices (APPIA_MAX_BATCH_DEVICES); this one names ${deviceIds.length}`);
  }
  const now = ctx.now();
  const key = options.idempotencyKey;
  const selection = 'deviceIds' in targets ? { deviceIds: [...deviceIds].sort() } : { all: true, kind: targets.kind?.toLowerCase() ?? null };
  const result = await ctx.store.createBatch(
    {
      id: ctx.ids.commandId(now),
      userId,
      createdAt: now,
      command: { ...commandFields(input), expiresAt: expiryOf(ctx, input, now) },
      targets: deviceIds.map((deviceId) => ({ deviceId, commandId: ctx.ids.commandId(now) })),
      requireAll: 'deviceIds' in targets,
    },
    {
      ...(key === undefined
        ? {}
        : { idempotencyKey: key, idempotencyExpiresAt: now + IDEMPOTENCY_TTL_MS, idempotencyFingerprint: requestFingerprint({ batch: selection }, input) }),
      maxOpen: ctx.timings.maxOpenCommands,
    },
  );
  for (const { command, history } of result.commands) announceCreated(ctx, writer, command, history);
  return { batch: result.batch, created: result.created };
}

async function allDeviceIds(ctx: CoreContext, userId: string, kind: string | undefined): Promise<string[]> {
  const wanted = kind?.toLowerCase();
  const ids: string[] = [];
  for (let offset = 0; ; offset += DEVICE_PAGE) {
    const page = await ctx.store.listDevices(userId, { limit: DEVICE_PAGE, offset });
    for (const device of page) if (wanted === undefined || device.kind?.toLowerCase() === wanted) ids.push(device.id);
    if (page.length < DEVICE_PAGE) return ids;
  }
}

export async function getBatch(ctx: CoreContext, userId: string, batchId: string): Promise<BatchRecord> {
  const batch = await ctx.store.getBatch(userId, batchId);
  if (!batch) throw new AppiaError('notFound', `command batch ${batchId} was not found`);
  return batch;
}

/** the batch's commands (`notFound` for a batch that is not the user's) */
export async function listBatchCommands(ctx: CoreContext, userId: string, batchId: string, query: BatchCommandQuery): Promise<CommandRecord[]> {
  await getBatch(ctx, userId, batchId);
  return ctx.store.listBatchCommands(userId, batchId, query);
}

/**
 * `Prefer: wait` on a batch: resolves once every command is final (changes
 * made on any node), or with the batch as it stands after `timeoutMs`.
 */
export async function waitForBatch(ctx: CoreContext, userId: string, batchId: string, timeoutMs: number): Promise<BatchRecord> {
  let wake: () => void = () => {};
  let changed = false;
  const subscription = ctx.bus.subscribe(subjects.user(userId), (m) => {
    if (m.kind !== 'status' || m.batchId !== batchId || !isFinal(m.status)) return;
    changed = true;
    wake();
  });
  try {
    // subscribed before the first read, so no change between the two is missed
    await subscription.ready.catch(() => {});
    const deadline = Date.now() + timeoutMs;
    let batch = await getBatch(ctx, userId, batchId);
    while (!isBatchDone(batch) && Date.now() < deadline) {
      if (!changed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(RECHECK_MS, deadline - Date.now()));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // many commands finish together: count once for all of them
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(RECOUNT_MS, deadline - Date.now()))));
      changed = false;
      batch = await getBatch(ctx, userId, batchId);
    }
    return batch;
  } finally {
    subscription.unsubscribe();
  }
}

/** Cancels every command of the batch that is not final (each as its own cancel is), then answers the batch. */
export async function cancelBatch(ctx: CoreContext, writer: StatusWriter, userId: string, batchId: string): Promise<BatchRecord> {
  await getBatch(ctx, userId, batchId);
  let afterId: string | undefined;
  for (;;) {
    const page = await ctx.store.listBatchCommands(userId, batchId, { limit: 1000, open: true, ...(afterId ? { afterId } : {}) });
    await cancelEach(ctx, writer, userId, page);
    if (page.length < 1000) break;
    afterId = page[page.length - 1]!.id;
  }
  return getBatch(ctx, userId, batchId);
}

/**
 * DESIGN 9, a device queue purge: cancels every open command of the device.
 * Answers how many were asked to cancel (each `canceled` at once if it had
 * not reached the device, else `cancelling` until the device answers).
 */
export async function purgeDeviceQueue(ctx: CoreContext, writer: StatusWriter, userId: string, deviceId: string): Promise<number> {
  if (!(await ctx.store.getDevice(userId, deviceId))) throw new AppiaError('notFound', `device ${deviceId} was not found`);
  return cancelEach(ctx, writer, userId, await ctx.store.listOpenCommands(deviceId));
}

/** cancelCommand for each, several at a time; one that became final meanwhile is passed over. Returns how many were canceled or are being canceled. */
async function cancelEach(ctx: CoreContext, writer: StatusWriter, userId: string, commands: readonly CommandRecord[]): Promise<number> {
  let next = 0;
  let canceled = 0;
  const worker = async () => {
    while (next < commands.length) {
      const command = commands[next++]!;
      try {
        await cancelCommand(ctx, writer, userId, command.deviceId, command.id);
        canceled++;
      } catch (err) {
        // a command that finished meanwhile (conflict) is not canceled; anything else is the caller's error
        if (!(isAppiaError(err) && (err.code === 'conflict' || err.code === 'notFound'))) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CANCELS_IN_FLIGHT, commands.length) }, worker));
  return canceled;
}
