import type { DeviceRecord } from '../../domain/device.js';
import type { PollOutcome } from '../../domain/pairing.js';
import type { NewPairing, PairingApproval, PairingStore } from '../pairings.js';
import type { CreateDeviceOptions } from '../store.js';
import type { SubmitWrite } from './write-ops.js';

/** DESIGN 10: the SQLite store's pairings; every call is one named write (pairing-ops.ts). */
export class SqlitePairings implements PairingStore {
  readonly #write: SubmitWrite;

  constructor(write: SubmitWrite) {
    this.#write = write;
  }

  create(pairing: NewPairing, forgetBefore: number): Promise<void> {
    return this.#write('createPairing', pairing, forgetBefore);
  }

  approve(approval: PairingApproval, options?: CreateDeviceOptions): Promise<DeviceRecord | undefined> {
    return this.#write('approvePairing', approval, options);
  }

  deny(userCodeHash: string, userId: string, at: number): Promise<boolean> {
    return this.#write('denyPairing', userCodeHash, userId, at);
  }

  poll(idHash: string, at: number, tokenHash: string): Promise<PollOutcome> {
    return this.#write('pollPairing', idHash, at, tokenHash);
  }
}
