/**
 * DESIGN 10: device pairing, shaped after the OAuth 2.0 device authorization
 * grant (RFC 8628). Pure: the user code's alphabet and spelling, and what a
 * device's poll finds, decided from a pairing's stored state and the time.
 * Both store adapters apply `decidePoll` inside the poll's transaction.
 */

/** RFC 8628 6.1: consonants only (no vowels, so no words), no look-alikes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;

/** RFC 8628 3.5: a device told `slow_down` waits this much longer from then on. */
export const SLOW_DOWN_STEP_MS = 5000;

/**
 * The user code as it is compared: upper case, without dashes or spaces, or
 * undefined when it cannot be a user code at all (then it is a wrong code).
 *
 * @example
 * normalizeUserCode('bcdf-ghjk') // 'BCDFGHJK'
 */
export function normalizeUserCode(input: string): string | undefined {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

/** `BCDFGHJK` as it is shown: `BCDF-GHJK`. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** A user code from random bytes (one byte per letter, rejection sampling keeps it uniform). */
export function userCodeFrom(random: (n: number) => Uint8Array): string {
  const limit = 256 - (256 % USER_CODE_ALPHABET.length);
  let code = '';
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random(USER_CODE_LENGTH)) {
      if (byte < limit && code.length < USER_CODE_LENGTH) code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
    }
  }
  return code;
}

export type PairingState = 'pending' | 'approved' | 'denied' | 'collected';

/** What a poll needs to know of a stored pairing. */
export interface PairingPollRow {
  readonly state: PairingState;
  /** pending: until when it can be approved; approved: until when its token can be collected */
  readonly expiresAt: number;
  readonly intervalMs: number;
  readonly lastPolledAt: number | null;
  readonly deviceId: string | null;
}

/** What a device's poll finds (the RFC 8628 3.5 answers, and the one success). */
export type PollOutcome =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'pending'; readonly intervalMs: number }
  | { readonly kind: 'slowDown'; readonly intervalMs: number }
  | { readonly kind: 'expired' }
  | { readonly kind: 'denied' }
  /** the token was handed out already: never twice */
  | { readonly kind: 'collected' }
  | { readonly kind: 'issued'; readonly deviceId: string };

/** A poll's decision and what it writes back to the pairing. */
export interface PollDecision {
  readonly outcome: PollOutcome;
  readonly intervalMs: number;
  /** the state to store (the same when nothing moves) */
  readonly state: PairingState;
}

/**
 * A poll sooner than the interval is `slow_down`, with a little slack for
 * the network: a device that waits the interval between its requests may
 * see them arrive closer together than it sent them.
 */
export function tooSoon(row: Pick<PairingPollRow, 'intervalMs' | 'lastPolledAt'>, at: number): boolean {
  if (row.lastPolledAt === null) return false;
  return at - row.lastPolledAt < row.intervalMs - Math.min(1000, row.intervalMs / 5);
}

/**
 * Decides a poll (RFC 8628 3.5). Final answers (expired, denied, collected)
 * come first; a pairing still in play polled too soon is `slow_down` and
 * its interval grows by SLOW_DOWN_STEP_MS for good; otherwise pending waits
 * and approved issues the token (the caller makes it `collected` in the same
 * transaction, so it is issued once).
 */
export function decidePoll(row: PairingPollRow | undefined, at: number): PollDecision | undefined {
  if (row === undefined) return undefined;
  const same = (outcome: PollOutcome): PollDecision => ({ outcome, intervalMs: row.intervalMs, state: row.state });
  if (row.state === 'collected') return same({ kind: 'collected' });
  if (row.state === 'denied') return same({ kind: 'denied' });
  if (at >= row.expiresAt) return same({ kind: 'expired' });
  if (tooSoon(row, at)) {
    const intervalMs = row.intervalMs + SLOW_DOWN_STEP_MS;
    return { outcome: { kind: 'slowDown', intervalMs }, intervalMs, state: row.state };
  }
  if (row.state === 'pending') return same({ kind: 'pending', intervalMs: row.intervalMs });
  return { outcome: { kind: 'issued', deviceId: row.deviceId! }, intervalMs: row.intervalMs, state: 'collected' };
}

/**
 * An `issued` decision whose token could not be collected, because the owner
 * removed the device first: `denied` instead, and stored as denied.
 */
export function deviceRemovedBeforeCollecting(decision: PollDecision): PollDecision {
  return { outcome: { kind: 'denied' }, intervalMs: decision.intervalMs, state: 'denied' };
}

/**
 * The token hash a paired device holds until its token is collected: not the
 * SHA-256 hex of any token (it has a prefix), so no token finds the device
 * before the poll that hands its real token out swaps it in.
 */
export function uncollectedTokenHash(pairingHash: string): string {
  return `uncollected:${pairingHash}`;
}
