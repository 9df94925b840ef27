import type { LifecycleEvent } from './events.js';
import { isFinal } from './policy.js';
import { type Status, STATUSES } from './status.js';

/** DESIGN 3: a command is born `requesting` when it is created and stored. */
export const INITIAL_STATUS = 'requesting' satisfies Status;

export { EVENTS, type LifecycleEvent } from './events.js';

type Row = Partial<Record<LifecycleEvent, Status>>;

const toEveryNonFinal = { cancelRequested: 'cancel', expire: 'expired', fault: 'error' } as const;
const deviceOutcomes = { completed: 'completed', failed: 'executionFailed' } as const;

/**
 * DESIGN 3, the lifecycle table: `TABLE[from][event]` is the status the event
 * leads to; a missing entry is a refused transition. Final statuses have empty
 * rows, so nothing moves them.
 */
export const TABLE = {
  requesting: {
    ...toEveryNonFinal,
    sent: 'sentToTarget',
    deliveryFailed: 'retry',
    attemptsExhausted: 'failedToSend',
    deviceRemoved: 'failedToSend',
  },
  retry: {
    ...toEveryNonFinal,
    sent: 'sentToTarget',
    attemptsExhausted: 'failedToSend',
    deviceRemoved: 'failedToSend',
  },
  sentToTarget: {
    ...toEveryNonFinal,
    ...deviceOutcomes,
    deliveryFailed: 'retry',
    received: 'executing',
    progress: 'custom',
    dropped: 'commandDropped',
    deviceRemoved: 'canceled',
  },
  executing: {
    ...toEveryNonFinal,
    ...deviceOutcomes,
    progress: 'custom',
    dropped: 'commandDropped',
    deviceRemoved: 'canceled',
  },
  custom: {
    ...toEveryNonFinal,
    ...deviceOutcomes,
    progress: 'custom',
    deviceRemoved: 'canceled',
  },
  cancel: {
    // A repeated cancel request is not a change; see cancelRequested below.
    expire: 'expired',
    fault: 'error',
    ...deviceOutcomes,
    cancelUndelivered: 'canceled',
    cancelSent: 'cancelling',
    deviceRemoved: 'canceled',
  },
  cancelling: {
    expire: 'expired',
    fault: 'error',
    ...deviceOutcomes,
    canceledByDevice: 'canceled',
    cancelTimedOut: 'canceled',
    // The removed device can no longer answer: the same outcome as a timeout.
    deviceRemoved: 'canceled',
  },
  completed: {},
  failedToSend: {},
  executionFailed: {},
  commandDropped: {},
  canceled: {},
  expired: {},
  error: {},
} as const satisfies Record<Status, Row>;

export type Transition =
  | { readonly ok: true; readonly from: Status; readonly to: Status }
  | { readonly ok: false; readonly from: Status; readonly reason: string };

/**
 * The one place that decides a status change. Pure: no clock, no I/O.
 *
 * @example
 * transition('sentToTarget', 'received') // { ok: true, from: 'sentToTarget', to: 'executing' }
 * transition('completed', 'expire')      // { ok: false, ... 'completed is final' }
 */
export function transition(from: Status, event: LifecycleEvent): Transition {
  const row: Row = TABLE[from];
  const to = row[event];
  if (to !== undefined) return { ok: true, from, to };
  if (isFinal(from)) return { ok: false, from, reason: `the command is already ${from}, a final status` };
  return { ok: false, from, reason: `${event} is not allowed while the command is ${from}` };
}

/** The status an event leads to from some status, if any: used to recognise a repeated report. */
export function targetOf(event: LifecycleEvent): ReadonlySet<Status> {
  const targets = new Set<Status>();
  for (const s of STATUSES) {
    const to = (TABLE[s] as Row)[event];
    if (to) targets.add(to);
  }
  return targets;
}
