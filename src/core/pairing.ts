import { createHash, randomBytes } from 'node:crypto';
import type { DeviceRecord } from '../domain/device.js';
import { isAppiaError } from '../domain/errors.js';
import { formatUserCode, normalizeUserCode, userCodeFrom, type PollOutcome } from '../domain/pairing.js';
import type { CoreContext } from './context.js';
import { hashDeviceToken } from './ids.js';

/** DESIGN 10: APPIA_PAIRING_TTL_MS's default, how long a code can be approved */
export const DEFAULT_PAIRING_TTL_MS = 600_000;
/** RFC 8628 3.2: the default wait between polls */
export const DEFAULT_PAIRING_INTERVAL_MS = 5000;

/** A new pairing as the device is told of it (POST /devices/pair). */
export interface StartedPairing {
  /** high-entropy, secret to the device: it polls with it */
  readonly pairingId: string;
  /** what its owner types, shown as XXXX-XXXX */
  readonly userCode: string;
  readonly expiresInSeconds: number;
  readonly intervalSeconds: number;
}

/** A poll's answer: the outcome, with the device token when it is `issued` (that once only). */
export type PollAnswer = Exclude<PollOutcome, { kind: 'issued' }> | { readonly kind: 'issued'; readonly deviceId: string; readonly deviceToken: string };

/** What a device asks to be registered as (the fields of POST /me/devices). */
export interface PairingDeviceInput {
  readonly name: string;
  readonly kind: string | null;
  readonly platform: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
}

/**
 * DESIGN 10: device pairing (RFC 8628's device authorization grant) as the
 * core offers it. The pairing id and the user code are stored only as
 * SHA-256 hashes; the device token is drawn at the poll that hands it out,
 * so it is never stored but as the device's token hash.
 *
 * @example
 * const started = await core.pairing.start({ name: 'Kiosk', kind: 'Desktop', platform: null, model: null, manufacturer: null });
 * await core.pairing.approve('alice', started.userCode);   // the owner, signed in
 * const answer = await core.pairing.poll(started.pairingId); // { kind: 'issued', deviceId, deviceToken }
 */
export class DevicePairing {
  readonly #ctx: CoreContext;
  readonly #random: (n: number) => Uint8Array;

  constructor(ctx: CoreContext, random: (n: number) => Uint8Array = randomBytes) {
    this.#ctx = ctx;
    this.#random = random;
  }

  get ttlMs(): number {
    return this.#ctx.timings.pairingTtlMs ?? DEFAULT_PAIRING_TTL_MS;
  }

  get intervalMs(): number {
    const ms = this.#ctx.timings.pairingIntervalMs ?? DEFAULT_PAIRING_INTERVAL_MS;
    return Math.max(1, Math.ceil(ms / 1000)) * 1000;
  }

  /** A device asks to be paired: a pending pairing, with a fresh user code (drawn again on the rare clash). */
  async start(input: PairingDeviceInput): Promise<StartedPairing> {
    const now = this.#ctx.now();
    const pairingId = 'appia_pr_' + Buffer.from(this.#random(32)).toString('base64url');
    for (let attempt = 1; ; attempt++) {
      const userCode = userCodeFrom(this.#random);
      try {
        await this.#ctx.store.pairings.create(
          { ...input, idHash: hashSecret(pairingId), userCodeHash: hashUserCode(userCode), createdAt: now, expiresAt: now + this.ttlMs, intervalMs: this.intervalMs },
          now - this.ttlMs,
        );
      } catch (err) {
        if (attempt < 5 && isAppiaError(err) && err.code === 'conflict') continue;
        throw err;
      }
      return { pairingId, userCode: formatUserCode(userCode), expiresInSeconds: Math.ceil(this.ttlMs / 1000), intervalSeconds: this.intervalMs / 1000 };
    }
  }

  /**
   * The owner approves a code (any case, with or without its dash): the
   * device is registered to them. Undefined for a wrong or expired code.
   * Refused `conflict` past the user's device limit (DESIGN 8), the code
   * staying pending.
   */
  approve(userId: string, userCode: string): Promise<DeviceRecord | undefined> {
    const code = normalizeUserCode(userCode);
    if (code === undefined) return Promise.resolve(undefined);
    const at = this.#ctx.now();
    return this.#ctx.store.pairings.approve(
      { userCodeHash: hashUserCode(code), userId, deviceId: this.#ctx.ids.deviceId(), at, collectUntil: at + this.ttlMs },
      { maxDevices: this.#ctx.timings.maxDevicesPerUser ?? 0 },
    );
  }

  /** The owner refuses a code: the device's next poll is `access_denied`. False for a wrong or expired code. */
  deny(userId: string, userCode: string): Promise<boolean> {
    const code = normalizeUserCode(userCode);
    if (code === undefined) return Promise.resolve(false);
    return this.#ctx.store.pairings.deny(hashUserCode(code), userId, this.#ctx.now());
  }

  /** The device polls with its pairing id (RFC 8628 3.4, 3.5). */
  async poll(pairingId: string): Promise<PollAnswer> {
    const deviceToken = this.#ctx.ids.deviceToken();
    const outcome = await this.#ctx.store.pairings.poll(hashSecret(pairingId), this.#ctx.now(), hashDeviceToken(deviceToken));
    return outcome.kind === 'issued' ? { ...outcome, deviceToken } : outcome;
  }
}

/** the pairing id is random (256 bits): a fast hash is right, as for device tokens */
function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** the normalised user code, hashed (its own prefix, so no user code hash equals a pairing id's) */
function hashUserCode(code: string): string {
  return createHash('sha256').update(`appia user code ${code}`, 'utf8').digest('hex');
}
