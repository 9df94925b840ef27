import type { PresenceStore } from '../presence.js';
import { EXPIRE_PRESENCE, numbered, RENEWED_PRESENCE } from '../sql-shared.js';
import type { QueryRunner } from './runner.js';

const RENEW = numbered(`UPDATE devices SET ${RENEWED_PRESENCE} WHERE connection_id = ANY(?::text[]) AND removed_at IS NULL`);
const EXPIRE = numbered(EXPIRE_PRESENCE);

/**
 * DESIGN 4: the PostgreSQL store's presence lease, one statement a call. A
 * renewal and an expiry of the same device racing on two nodes: each row is
 * updated by one, then the other (row locks), so a renewal after the expiry
 * makes the device Online again, as a late renewal should.
 */
export class PostgresPresence implements PresenceStore {
  readonly #db: QueryRunner;

  constructor(db: QueryRunner) {
    this.#db = db;
  }

  async renew(connectionIds: readonly string[], at: number): Promise<number> {
    if (connectionIds.length === 0) return 0;
    const result = await this.#db.write({ name: 'presence_renew', text: RENEW, values: [at, connectionIds] });
    return result.rowCount ?? 0;
  }

  async expire(seenBefore: number): Promise<string[]> {
    const { rows } = await this.#db.write<{ id: string }>({ name: 'presence_expire', text: EXPIRE, values: [seenBefore] });
    return rows.map((r) => r.id);
  }
}
