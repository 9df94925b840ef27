import type { LifecycleEvent } from './events.js';
import { STATUSES, type Status } from './status.js';

/**
 * What each status means to the rest of the system (DESIGN 1 and 3), beside
 * the transition table in lifecycle.ts. The scheduler, the delivery to
 * devices, the SQL predicates and the CLI read this table; none spells the
 * statuses out again.
 */
export interface StatusPolicy {
  /** DESIGN 3: a final status never changes */
  readonly final: boolean;
  /** the command waits to be written to its device's connection (counts as "not yet delivered") */
  readonly awaitsDelivery: boolean;
  /** the timer a command carries while in this status, and what firing it does; null = none */
  readonly timer: StatusTimer | null;
  /** DESIGN 4: what a device's (re)connect does with a command in this status */
  readonly onConnect: ConnectAction;
  /** what the device's connection dropping does with it (before it answered) */
  readonly onDisconnect: LifecycleEvent | null;
}

/** How long a status's timer runs (each from its setting, DESIGN 8). */
export type TimerLength =
  /** APPIA_RECEIPT_TIMEOUT_MS */
  | 'receiptTimeout'
  /** the delivery backoff: APPIA_RETRY_BASE_MS doubling, jittered, capped (retryDelay) */
  | 'retryBackoff'
  /** how often a cancel that has not reached the device is sent again: APPIA_CANCEL_TIMEOUT_MS, or 30 s when that is off */
  | 'cancelResend'
  /** APPIA_CANCEL_TIMEOUT_MS */
  | 'cancelTimeout';

export interface StatusTimer {
  readonly length: TimerLength;
  readonly onFire: TimerAction;
}

export type TimerAction =
  /** record this lifecycle event (claimed first, so only one node does it) */
  | { readonly kind: 'event'; readonly event: LifecycleEvent; readonly detail: string }
  /** wake the node holding the device's connection to send the command again; parked while the device is away */
  | { readonly kind: 'wakeDelivery' }
  /** wake the node holding the device's connection to send the cancel again */
  | { readonly kind: 'wakeCancel' };

export type ConnectAction =
  /** record the attempt (`sent`), then write the command */
  | 'send'
  /** written before without a receipt: write it again as it is */
  | 'write'
  /** the device has it: write it again marked `resumed`, so a device that lost it says so */
  | 'resume'
  /** record `cancelSent`, then write the cancel */
  | 'sendCancel'
  /** the cancel was sent before: write it again */
  | 'writeCancel'
  /** nothing to send */
  | 'none';

const FINAL: StatusPolicy = { final: true, awaitsDelivery: false, timer: null, onConnect: 'none', onDisconnect: null };
const WITH_DEVICE: StatusPolicy = { final: false, awaitsDelivery: false, timer: null, onConnect: 'resume', onDisconnect: null };

/** DESIGN 3 and 4, status by status. */
export const POLICY = {
  requesting: { final: false, awaitsDelivery: true, timer: null, onConnect: 'send', onDisconnect: null },
  retry: {
    final: false,
    awaitsDelivery: true,
    timer: { length: 'retryBackoff', onFire: { kind: 'wakeDelivery' } },
    onConnect: 'send',
    onDisconnect: null,
  },
  sentToTarget: {
    final: false,
    awaitsDelivery: false,
    timer: { length: 'receiptTimeout', onFire: { kind: 'event', event: 'deliveryFailed', detail: 'no receipt within the receipt timeout' } },
    onConnect: 'write',
    onDisconnect: 'deliveryFailed',
  },
  executing: WITH_DEVICE,
  custom: WITH_DEVICE,
  cancel: {
    final: false,
    awaitsDelivery: false,
    // DESIGN 3 allows cancel -> canceled only before the command reached the
    // device, so a cancel the device has not heard is sent again until it
    // hears it, the command finishes, or it expires.
    timer: { length: 'cancelResend', onFire: { kind: 'wakeCancel' } },
    onConnect: 'sendCancel',
    onDisconnect: null,
  },
  cancelling: {
    final: false,
    awaitsDelivery: false,
    timer: {
      length: 'cancelTimeout',
      onFire: { kind: 'event', event: 'cancelTimedOut', detail: 'the device did not confirm the cancel within the cancel timeout' },
    },
    onConnect: 'writeCancel',
    onDisconnect: null,
  },
  completed: FINAL,
  failedToSend: FINAL,
  executionFailed: FINAL,
  commandDropped: FINAL,
  canceled: FINAL,
  expired: FINAL,
  error: FINAL,
} as const satisfies Record<Status, StatusPolicy>;

/** DESIGN 3: a final status never changes (POLICY says which are final). */
export const FINAL_STATUSES: readonly FinalStatus[] = Object.freeze(STATUSES.filter((s): s is FinalStatus => POLICY[s].final));

export type FinalStatus = { [K in Status]: (typeof POLICY)[K]['final'] extends true ? K : never }[Status];

export function isFinal(status: Status): boolean {
  return POLICY[status].final;
}

export function policyOf(status: Status): StatusPolicy {
  return POLICY[status];
}

const statusesWhere = (test: (p: StatusPolicy) => boolean): readonly Status[] =>
  Object.freeze((Object.keys(POLICY) as Status[]).filter((s) => test(POLICY[s])));

/** the statuses a command waits in for delivery */
export const AWAITING_DELIVERY: readonly Status[] = statusesWhere((p) => p.awaitsDelivery);

/** The timings the timers run on (DESIGN 8); 0 turns one off. */
export interface Timings {
  readonly receiptTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly cancelTimeoutMs: number;
}

export const RETRY_CAP_MS = 5 * 60 * 1000;
/** how often an unheard cancel is sent again when APPIA_CANCEL_TIMEOUT_MS is 0 (off) */
export const DEFAULT_CANCEL_RESEND_MS = 30_000;

/**
 * The backoff before attempt n+1 after n failed ones (DESIGN 8): the base,
 * doubling, capped at 5 minutes, with equal jitter (half fixed, half random).
 * Pure: `random` is in [0, 1).
 */
export function retryDelay(attempts: number, baseMs: number, random: number): number {
  const base = Math.min(RETRY_CAP_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base / 2 + (random * base) / 2);
}

/**
 * When the timer of `status`, entered at `at` after `attempts` delivery
 * attempts, comes due; null when the status carries none or its setting is off.
 */
export function timerDueAt(status: Status, at: number, attempts: number, timings: Timings, random: number): number | null {
  const timer = POLICY[status].timer;
  if (timer === null) return null;
  const length = timer.length;
  switch (length) {
    case 'receiptTimeout':
      return timings.receiptTimeoutMs > 0 ? at + timings.receiptTimeoutMs : null;
    case 'retryBackoff':
      return at + retryDelay(attempts, timings.retryBaseMs, random);
    case 'cancelResend':
      return at + (timings.cancelTimeoutMs || DEFAULT_CANCEL_RESEND_MS);
    case 'cancelTimeout':
      return timings.cancelTimeoutMs > 0 ? at + timings.cancelTimeoutMs : null;
    default:
      return unreachable(length);
  }
}

function unreachable(value: never): never {
  throw new Error(`unknown timer length ${String(value)}`);
}
