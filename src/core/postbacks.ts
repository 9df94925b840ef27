import { AppiaError } from '../domain/errors.js';
import { newPostbackSecret, PREVIOUS_SECRET_SIGNS_MS } from '../postback/signing.js';
import type { PostbackEntry, PostbackOutcome, PostbackSecrets } from '../store/store.js';
import type { CoreContext } from './context.js';

// The outbox's shapes, for the dispatcher and the routes: they reach the store only through the core.
export type { PostbackEntry, PostbackOutcome, PostbackSecrets } from '../store/store.js';

/**
 * Claims up to `limit` due postbacks, leased until `now + leaseMs` (DESIGN 6):
 * only the head of each command's queue, so entry n+1 is never sent before
 * entry n is delivered or given up. `now` is the dispatcher's clock.
 */
export function claimPostbacks(ctx: CoreContext, now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]> {
  return ctx.store.claimPostbacks(now, limit, leaseMs);
}

/** Records one attempt of a claimed entry; false when the claim no longer holds (its lease ran out and another node took it). */
export function recordPostbackAttempt(ctx: CoreContext, entry: PostbackEntry, outcome: PostbackOutcome): Promise<boolean> {
  if (entry.claimToken === undefined) throw new AppiaError('internal', `postback ${entry.id} was recorded without a claim`);
  return ctx.store.recordPostbackAttempt(entry.id, entry.claimToken, outcome);
}

/** DESIGN 6: a command's deliveries log, by sequence; `notFound` unless the command is the user's, on that device. */
export async function postbackLog(ctx: CoreContext, userId: string, deviceId: string, commandId: string): Promise<PostbackEntry[]> {
  const command = await ctx.store.getCommand(userId, deviceId, commandId);
  if (!command) throw new AppiaError('notFound', `command ${commandId} was not found on device ${deviceId}`);
  return ctx.store.listPostbacks(command.id);
}

/** The user's signing secrets; a user who has none yet gets one now, made from fresh randomness. */
export function postbackSecrets(ctx: CoreContext, userId: string): Promise<PostbackSecrets> {
  return ctx.store.ensurePostbackSecrets(userId, newPostbackSecret());
}

/** DESIGN 6: a new current secret; the one it replaces keeps signing for 24 h. */
export function rotatePostbackSecret(ctx: CoreContext, userId: string): Promise<PostbackSecrets> {
  return ctx.store.rotatePostbackSecret(userId, newPostbackSecret(), ctx.now() + PREVIOUS_SECRET_SIGNS_MS);
}

/** postbacks still pending, on every node (the outbox depth, /metrics) */
export function postbackDepth(ctx: CoreContext): Promise<number> {
  return ctx.store.postbackDepth();
}
