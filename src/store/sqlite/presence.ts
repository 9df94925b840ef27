import type { PresenceStore } from '../presence.js';
import type { SubmitWrite } from './write-ops.js';

/** DESIGN 4: the SQLite store's presence lease; each call is one named write (PRESENCE_WRITE_OPS, presence-ops.ts). */
export class SqlitePresence implements PresenceStore {
  readonly #write: SubmitWrite;

  constructor(write: SubmitWrite) {
    this.#write = write;
  }

  renew(connectionIds: readonly string[], at: number): Promise<number> {
    if (connectionIds.length === 0) return Promise.resolve(0);
    return this.#write('renewPresence', connectionIds, at);
  }

  expire(seenBefore: number): Promise<string[]> {
    return this.#write('expirePresence', seenBefore);
  }
}
