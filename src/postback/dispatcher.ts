import type { CommandCore } from '../core/core.js';
import type { PostbackEntry, PostbackOutcome, PostbackSecrets } from '../core/postbacks.js';
import type { PostbackLookup } from './address-guard.js';
import type { PostbackAllowList } from './allow-list.js';
import { postbackBody, postbackOutcome } from './attempt.js';
import { POSTBACK_RETRY, type PostbackRetryPolicy } from './retry-policy.js';
import { POSTBACK_SEND_DEFAULTS, sendPostback, type SendOutcome, type SendPostbackOptions } from './sender.js';
import { signingSecrets, signPostback } from './signing.js';

/** What the dispatcher needs of the command core (DESIGN 1: only the core reaches the store). */
export type PostbackCore = Pick<CommandCore, 'claimPostbacks' | 'recordPostbackAttempt' | 'postbackSecrets' | 'postbackDepth' | 'onPostbackQueued'>;

export interface DispatcherDeps {
  readonly core: PostbackCore;
  /** APPIA_POSTBACK_ALLOW, parsed once at start */
  readonly allow: PostbackAllowList;
  readonly log: DispatcherLog;
  readonly options?: DispatcherOptions;
}

export interface DispatcherLog {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/** Settings and seams (STYLE: time, randomness, the network); tests drive retries with them instead of waiting hours. */
export interface DispatcherOptions {
  /**
   * how often the outbox is asked when nothing woke the loop (default 1 s): a
   * change stored on this node wakes it at once, and a retry this node
   * scheduled wakes it at its time; the tick finds the rest (entries whose
   * lease ran out, the outbox after a restart)
   */
  readonly tickMs?: number;
  /** most entries claimed at once (default 100) */
  readonly batch?: number;
  /** most attempts in flight at once, over all commands (default 128) */
  readonly maxInFlight?: number;
  /** how long a claimed entry is held; another node may send it after that (default: the attempt timeout + 5 s) */
  readonly leaseMs?: number;
  /** the retry schedule and the give-up rule (default POSTBACK_RETRY) */
  readonly retry?: PostbackRetryPolicy;
  /** one attempt's whole time and its connect time (sender defaults: 10 s, 5 s) */
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly now?: () => number;
  /** [0, 1): the jitter */
  readonly random?: () => number;
  readonly send?: (options: SendPostbackOptions) => Promise<SendOutcome>;
  readonly lookup?: PostbackLookup;
}

/** What /metrics shows of this node's postbacks (appia_postback_outbox_depth, appia_postback_failures_total). */
export interface PostbackStats {
  /** pending entries in the outbox, on every node */
  readonly depth: number;
  /** attempts of this node that were delivered */
  readonly delivered: number;
  /** attempts of this node that failed (each retry counts) */
  readonly failures: number;
  /** entries this node gave up */
  readonly givenUp: number;
  /** attempts under way on this node now */
  readonly inFlight: number;
}

export interface PostbackDispatcher {
  /** asks the outbox again soon (a change was just queued) */
  wake(): void;
  stats(): Promise<PostbackStats>;
  /** stops claiming, waits for the attempts under way and their records */
  close(): Promise<void>;
}

/** an attempt under way; `entry` carries the claim its outcome is recorded under */
interface Flight {
  entry: PostbackEntry;
}

/**
 * Starts this node's postback loop (DESIGN 6). Every tick, or soon after a
 * wake-up, it claims due entries with a lease and sends them in parallel:
 * many commands at once, and in order per command, because the outbox hands
 * out only the head of each command's queue and the next entry becomes due
 * only once this one is recorded. Each outcome is recorded: delivered, a
 * retry at the policy's time, or given up (after 24 h of attempts, or at once
 * when another attempt cannot help), which the store notes in the command's
 * history. A node that dies mid-attempt leaves its lease to run out, and the
 * entry is sent again (at least once; the `webhook-id` stays the same).
 *
 * @example
 * const postbacks = startPostbackDispatcher({ core, allow: parsePostbackAllow(config.postbackAllow), log: app.log });
 * // ... on shutdown, before the store closes:
 * await postbacks.close();
 */
export function startPostbackDispatcher(deps: DispatcherDeps): PostbackDispatcher {
  const { core, allow, log, options = {} } = deps;
  const tickMs = options.tickMs ?? 1000;
  const batch = options.batch ?? 100;
  const maxInFlight = options.maxInFlight ?? 128;
  const timeoutMs = options.timeoutMs ?? POSTBACK_SEND_DEFAULTS.timeoutMs;
  const connectTimeoutMs = options.connectTimeoutMs ?? POSTBACK_SEND_DEFAULTS.connectTimeoutMs;
  const leaseMs = options.leaseMs ?? timeoutMs + 5_000;
  const retry = options.retry ?? POSTBACK_RETRY;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const send = options.send ?? sendPostback;

  const inFlight = new Map<number, Flight>();
  const flights = new Set<Promise<void>>();
  const counts = { delivered: 0, failures: 0, givenUp: 0 };
  let closed = false;
  let claiming: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Immediate | undefined;
  /** the earliest retry this node scheduled, and its timer */
  let retryAt = Infinity;
  let retryTimer: NodeJS.Timeout | undefined;

  // Under load, claim in batches: wait until a quarter of the slots are free, rather than
  // asking the outbox (a write transaction) again for every attempt that ends.
  const refillAt = maxInFlight - Math.max(1, Math.floor(maxInFlight / 4));
  const pump = (): void => {
    if (closed || inFlight.size > refillAt) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = claimAndSend().finally(() => {
      claiming = undefined;
    });
  };

  const claimAndSend = async (): Promise<void> => {
    do {
      again = false;
      const room = Math.min(batch, maxInFlight - inFlight.size);
      if (room <= 0) return; // a finishing attempt pumps again
      let claimed: PostbackEntry[];
      try {
        claimed = await core.claimPostbacks(now(), room, leaseMs);
      } catch (err) {
        // e.g. the store is briefly unreachable: the entries stay due, the next tick asks again
        log.warn({ err }, 'postback claim failed; retrying on the next tick');
        return;
      }
      // one read of each user's secrets per claim, so a rotation applies from the next claim on
      const secrets = new Map<string, Promise<PostbackSecrets>>();
      for (const entry of claimed) {
        const flying = inFlight.get(entry.id);
        // Its lease ran out while it was still under way here (a stalled loop, a clock jump):
        // one attempt stays under way, and its outcome goes under the new claim.
        if (flying) flying.entry = entry;
        else start(entry, secrets);
      }
      if (claimed.length === room) again = true;
    } while (again && !closed);
  };

  const start = (entry: PostbackEntry, secrets: Map<string, Promise<PostbackSecrets>>): void => {
    let userSecrets = secrets.get(entry.userId);
    if (!userSecrets) secrets.set(entry.userId, (userSecrets = core.postbackSecrets(entry.userId)));
    const flight: Flight = { entry };
    inFlight.set(entry.id, flight);
    const done: Promise<void> = attempt(flight, userSecrets)
      .catch((err: unknown) => log.warn({ err, commandId: entry.commandId, sequence: entry.sequence }, 'postback attempt could not be recorded; it is sent again after its lease'))
      .finally(() => {
        inFlight.delete(entry.id);
        flights.delete(done);
        pump();
      });
    flights.add(done);
  };

  const attempt = async (flight: Flight, userSecrets: Promise<PostbackSecrets>): Promise<void> => {
    const entry = flight.entry;
    const body = postbackBody(entry);
    const at = now();
    const headers = signPostback({ secrets: signingSecrets(await userSecrets, at), webhookId: entry.webhookId, timestamp: new Date(at), body });
    const sent = await send({
      url: entry.url,
      body,
      headers,
      allow,
      timeoutMs,
      connectTimeoutMs,
      now,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    const outcome: PostbackOutcome = postbackOutcome(entry, sent, { at, endedAt: now(), random, retry });
    if (outcome.state === 'delivered') counts.delivered++;
    else counts.failures++;
    if (outcome.state === 'pending') retryLater(outcome.nextAttemptAt);
    if (outcome.state === 'failed') {
      counts.givenUp++;
      log.warn({ commandId: entry.commandId, sequence: entry.sequence, host: hostOf(entry.url) }, outcome.historyNote);
    }
    const claim = flight.entry;
    if (await core.recordPostbackAttempt(claim, outcome)) return;
    // A claim of this node can take the entry over while the record is on its way (its lease ran
    // out mid-attempt): once that claim is through, flight.entry holds the new token; record under it.
    await claiming;
    if (flight.entry !== claim && (await core.recordPostbackAttempt(flight.entry, outcome))) return;
    log.info({ commandId: entry.commandId, sequence: entry.sequence }, 'postback attempt not recorded: its claim had passed to another node');
  };

  // Woken from inside the core's write path: run after it, once for all the changes of this turn.
  const wakeSoon = (): void => {
    if (!closed && soon === undefined) {
      soon = setImmediate(() => {
        soon = undefined;
        pump();
      });
    }
  };

  const retryLater = (at: number): void => {
    if (closed || at >= retryAt) return;
    clearTimeout(retryTimer);
    retryAt = at;
    retryTimer = setTimeout(() => {
      retryAt = Infinity;
      pump();
    }, Math.max(0, at - now()));
    retryTimer.unref();
  };

  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      pump();
      schedule();
    }, tickMs);
    // the loop alone must not keep a process alive
    timer.unref();
  };
  const unsubscribe = core.onPostbackQueued(wakeSoon);
  pump();
  schedule();

  return {
    wake: wakeSoon,
    async stats() {
      return { depth: await core.postbackDepth(), ...counts, inFlight: inFlight.size };
    },
    async close() {
      closed = true;
      unsubscribe();
      clearTimeout(timer);
      clearTimeout(retryTimer);
      if (soon) clearImmediate(soon);
      await claiming;
      // attempts end by their own timeouts; their records must land before the store closes
      while (flights.size > 0) await Promise.allSettled([...flights]);
    },
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unreadable URL)';
  }
}
