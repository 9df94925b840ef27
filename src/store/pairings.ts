import type { DeviceRecord } from '../domain/device.js';
import type { PollOutcome } from '../domain/pairing.js';

/**
 * DESIGN 10: every Store has `pairings`. Declared here, beside the pairing
 * types, and merged into store.ts's Store interface (which keeps to its size).
 */
declare module './store.js' {
  interface Store {
    readonly pairings: PairingStore;
  }
}

/**
 * DESIGN 10: the pairings a device asked for, part of the Store (each
 * adapter has a pairing.ts). Codes are kept only as hashes: `idHash` of the
 * device's secret pairing id, `userCodeHash` of the code its owner types.
 * Every call is one transaction, so racing approvals and polls of one
 * pairing never both win.
 */
export interface PairingStore {
  /**
   * Stores a pending pairing, and forgets pairings whose `expiresAt` is before
   * `forgetBefore`. Throws AppiaError `conflict` when a pairing still holds
   * the same `userCodeHash` (the caller draws another code).
   */
  create(pairing: NewPairing, forgetBefore: number): Promise<void>;
  /**
   * Approves the pending, unexpired pairing of this user code for `userId`:
   * registers its device (under `options.maxDevices`, like createDevice) with
   * no usable token yet, and gives the pairing until `collectUntil` for its
   * device to collect one. Undefined when no such pairing is pending.
   */
  approve(approval: PairingApproval, options?: { readonly maxDevices?: number }): Promise<DeviceRecord | undefined>;
  /** Denies the pending, unexpired pairing of this user code: its device's next poll is `access_denied`. False when none is pending. */
  deny(userCodeHash: string, userId: string, at: number): Promise<boolean>;
  /**
   * A device's poll (domain/pairing.ts decidePoll), stored: the poll's time,
   * a grown interval, and on `issued` the pairing becomes `collected` and its
   * device's token hash becomes `tokenHash` (a token the caller drew, handed
   * out only on `issued`). A device removed before its token was collected
   * answers `denied`.
   */
  poll(idHash: string, at: number, tokenHash: string): Promise<PollOutcome>;
}

export interface NewPairing {
  readonly idHash: string;
  readonly userCodeHash: string;
  /** what the device asked to be registered as */
  readonly name: string;
  readonly kind: string | null;
  readonly platform: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly intervalMs: number;
}

export interface PairingApproval {
  readonly userCodeHash: string;
  readonly userId: string;
  /** the id the new device gets */
  readonly deviceId: string;
  readonly at: number;
  readonly collectUntil: number;
}
