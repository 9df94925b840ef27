import { STATUSES, type Status } from '../domain/status.js';

/**
 * The bus is only a wake-up signal (DESIGN 1): a lost message delays a
 * command (a sweep picks it up) but never loses it. Adapters: in-process.ts
 * (one node) and nats.ts (several nodes); both pass
 * test/contract/bus.contract.ts.
 */
export interface Bus {
  /** Sends a message to every subscriber of the subject, on any node. Never throws; a message may be lost. */
  publish(subject: string, message: BusMessage): void;
  /**
   * Calls `handler` with every valid message published on `subject` from
   * now on. Await `ready` before the first read of the state the messages
   * announce, so that nothing published after that read is missed.
   * `subject` comes from `subjects`. Never throws; a subscription the bus
   * cannot confirm (closed, or NATS disconnected) has a `ready` that rejects.
   * A handler that throws affects no other subscriber.
   */
  subscribe(subject: string, handler: (message: BusMessage) => void): Subscription;
  /** Resolves while the bus can carry messages; rejects with the reason otherwise (`/readyz`). */
  ready(): Promise<void>;
  /** Sends what is still buffered, then stops; afterwards `publish` does nothing. Calling it again is fine. */
  close(): Promise<void>;
}

export interface Subscription {
  /**
   * resolves once the subscription is registered everywhere a publisher may
   * be; rejects with an AppiaError `unavailable` when that cannot be known
   * (the caller answers 503, as `/readyz` does). It never goes unhandled.
   */
  readonly ready: Promise<void>;
  /** stops the handler; calling it again does nothing */
  unsubscribe(): void;
}

export type BusMessage =
  /** a command for this device is ready to be sent (created, or a retry is due) */
  | { readonly kind: 'deliver'; readonly deviceId: string; readonly commandId: string }
  /** send this command's cancel to the device */
  | { readonly kind: 'cancel'; readonly deviceId: string; readonly commandId: string }
  /** the device was removed: close its connection */
  | { readonly kind: 'deviceRemoved'; readonly deviceId: string }
  /** the device opened a new connection (on any node): every older one closes */
  | { readonly kind: 'connected'; readonly deviceId: string; readonly connectionId: string }
  /** a command changed status (SSE watchers, Prefer: wait) */
  | {
      readonly kind: 'status';
      readonly userId: string;
      readonly deviceId: string;
      readonly commandId: string;
      readonly status: Status;
      readonly historyId: number;
      /** the command's batch (DESIGN 9), when it has one */
      readonly batchId?: string;
    };

/**
 * Subjects: one per device (the node holding its connection listens), one
 * per user. Ids are encoded so that no id can reach into another subject: a
 * user id may hold `.`, `*`, `>` or spaces, which NATS reads as separators
 * and wildcards. base64url keeps only [A-Za-z0-9_-], so a subject is never
 * a wildcard and one id's subject is never another's (test/bus/subjects.test.ts).
 */
export const subjects = {
  device: (deviceId: string) => cachedSubject(deviceSubjects, 'appia.device.', deviceId),
  user: (userId: string) => cachedSubject(userSubjects, 'appia.user.', userId),
} as const;

/**
 * Every stored change publishes on its owner's subject: the encoding (two
 * Buffers per id) is done once per id, not per message. Bounded: a full
 * cache starts over.
 */
const SUBJECT_CACHE_SIZE = 10_000;
const deviceSubjects = new Map<string, string>();
const userSubjects = new Map<string, string>();

function cachedSubject(cache: Map<string, string>, prefix: string, id: string): string {
  let subject = cache.get(id);
  if (subject === undefined) {
    if (cache.size >= SUBJECT_CACHE_SIZE) cache.clear();
    cache.set(id, (subject = prefix + encodeToken(id)));
  }
  return subject;
}

function encodeToken(id: string): string {
  // never empty: NATS refuses an empty token ('_' alone is no base64url of any bytes)
  if (id === '') return '_';
  const utf8 = Buffer.from(id, 'utf8');
  // A lone surrogate becomes U+FFFD in UTF-8, so two ids would share a subject; such an id
  // takes its UTF-16 code units in a second token instead, which no other id produces.
  if (utf8.toString('utf8') !== id) return `_.${Buffer.from(id, 'utf16le').toString('base64url')}`;
  return utf8.toString('base64url');
}

const statuses: ReadonlySet<string> = new Set(STATUSES);
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;

/**
 * A message as it arrives from another process, checked field by field:
 * undefined when it is not one a node would send (wrong kind, a missing or
 * mistyped field). Extra fields are dropped.
 */
export function parseBusMessage(value: unknown): BusMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  switch (m['kind']) {
    case 'deliver':
    case 'cancel':
      return isText(m['deviceId']) && isText(m['commandId'])
        ? { kind: m['kind'], deviceId: m['deviceId'], commandId: m['commandId'] }
        : undefined;
    case 'deviceRemoved':
      return isText(m['deviceId']) ? { kind: 'deviceRemoved', deviceId: m['deviceId'] } : undefined;
    case 'connected':
      return isText(m['deviceId']) && isText(m['connectionId'])
        ? { kind: 'connected', deviceId: m['deviceId'], connectionId: m['connectionId'] }
        : undefined;
    case 'status': {
      const { userId, deviceId, commandId, status, historyId } = m;
      if (!isText(userId) || !isText(deviceId) || !isText(commandId)) return undefined;
      if (typeof status !== 'string' || !statuses.has(status)) return undefined;
      if (typeof historyId !== 'number' || !Number.isSafeInteger(historyId) || historyId < 0) return undefined;
      const batchId = isText(m['batchId']) ? { batchId: m['batchId'] } : {};
      return { kind: 'status', userId, deviceId, commandId, status: status as Status, historyId, ...batchId };
    }
    default:
      return undefined;
  }
}
