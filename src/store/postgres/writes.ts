import { randomBytes } from 'node:crypto';
import type { CommandRecord } from '../../domain/command.js';
import { AppiaError } from '../../domain/errors.js';
import { chainConnectionHolds, DEFAULT_IDEMPOTENCY_TTL_MS, historyEntry, newCommandRecord, postbackEntry, REFUSED_CHAIN } from '../sql-shared.js';
import type {
  ChainResult,
  CreateOptions,
  CreateResult,
  NewCommand,
  PostbackEntry,
  PostbackOutcome,
  StatusChange,
  TransitionResult,
} from '../store.js';
import { type ChangedRow, changeMask, changeSql, changeValues } from './change-sql.js';
import type { SqlQuery } from './client.js';
import type { QueryRunner, Transaction } from './runner.js';
import { type DeviceOwner, SQL, type StatementName } from './statements.js';

/**
 * The PostgreSQL store's writes of more than one row: each is one
 * transaction (or one statement) on one pooled connection, and says how it
 * stays right when other nodes write at the same moment.
 */
export class PostgresWrites {
  readonly #db: QueryRunner;
  readonly #now: () => number;

  constructor(db: QueryRunner, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult> {
    return this.#db.transaction(async (tx) => {
      const key = options?.idempotencyKey;
      if (key !== undefined) {
        // DESIGN 2: a retried create with the same key returns the first command
        const keyExpiresAt = options?.idempotencyExpiresAt ?? command.createdAt + DEFAULT_IDEMPOTENCY_TTL_MS;
        const fingerprint = options?.idempotencyFingerprint ?? null;
        const claim = await tx.query(statement('claimIdempotencyKey', [command.userId, key, command.id, keyExpiresAt, fingerprint, this.#now()]));
        if (claim.rowCount === 0) return this.#replay(tx, command.userId, key, fingerprint);
      }
      const maxOpen = options?.maxOpen ?? 0;
      const [owner] = (await tx.query<DeviceOwner>(statement(maxOpen > 0 ? 'deviceForLimitedCreate' : 'deviceForCreate', [command.deviceId]))).rows;
      if (owner === undefined || owner.userId !== command.userId || owner.removedAt !== null) {
        throw new AppiaError('notFound', `device ${command.deviceId} not found`);
      }
      // counted under the device's row lock: a racing create waits, then counts this one
      if (maxOpen > 0 && (await tx.query<{ open: number }>(statement('countOpen', [command.deviceId]))).rows[0]!.open >= maxOpen) {
        throw new AppiaError('tooManyOpen', `device ${command.deviceId} already has ${maxOpen} open commands`);
      }
      const record = newCommandRecord(command);
      const chain = options?.chain ?? [];
      // the device's row is locked (FOR SHARE at least): its latest connection cannot change before COMMIT
      const applying = chain.length > 0 && chainConnectionHolds(options!, owner.connectionId);
      const insert = applying ? tx.query.bind(tx) : tx.finish.bind(tx);
      const inserted = await insert<{ id: number }>(
        statement('insertCommand', [
          command.id,
          command.userId,
          command.deviceId,
          command.type,
          command.payloadJson,
          command.appServiceName,
          command.packageFamilyName,
          command.permissionTicket,
          command.postBackUri,
          record.status,
          command.createdAt,
          command.expiresAt,
        ]),
      );
      const created = { command: record, history: historyEntry(inserted.rows[0]!.id, command.id, 1, record.status, command.createdAt, null), created: true };
      // the new row is this transaction's own and the feed lock is held: the chain waits for no other lock
      if (chain.length === 0) return created;
      return { ...created, chain: applying ? await applyChain(tx, chain) : REFUSED_CHAIN };
    });
  }

  async #replay(tx: Transaction, userId: string, key: string, fingerprint: string | null): Promise<CreateResult> {
    const [first] = (await tx.query<CommandRecord & { fingerprint: string | null }>(statement('idempotentCommand', [userId, key]))).rows;
    if (first === undefined) throw new AppiaError('internal', 'an idempotency key without its command');
    // DESIGN 2: a key is bound to its first request (device and body)
    if (first.fingerprint !== fingerprint) {
      throw new AppiaError('idempotencyMismatch', `the Idempotency-Key ${JSON.stringify(key)} was already used for another request`);
    }
    return { command: commandRecord(first), created: false };
  }

  /**
   * Store.transitionChain, in one transaction. Each change is one statement
   * whose outcome decides whether the next is sent; the last goes out with
   * COMMIT, so a chain of n changes costs n round trips. A chain of several
   * first takes its users' feed locks (feed.ts: never between row locks).
   */
  transitionChain(changes: readonly StatusChange[]): Promise<ChainResult> {
    if (changes.length === 0) return Promise.resolve({ applied: [] });
    return this.#db.transaction(async (tx) => {
      // sent ahead of the first change, in the same round trip; a failure of it is the chain's failure
      const locking =
        changes.length > 1
          ? tx.query(statement('lockFeedsOfCommands', [changes.map((c) => c.commandId)])).then(
              () => undefined,
              (err: unknown) => ({ err }),
            )
          : undefined;
      return applyChain(tx, changes, locking);
    });
  }

  async claimPostbacks(now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]> {
    // one token for the entries of one claim: with the entry's id it proves the claim
    const claimToken = randomBytes(12).toString('base64url');
    const { rows } = await this.#db.write<Omit<PostbackEntry, 'webhookId'>>(statement('claimPostbacks', [now, limit, now + leaseMs, claimToken]));
    return rows.sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0) || a.id - b.id).map((row) => ({ ...postbackEntry(row), claimToken }));
  }

  async recordPostbackAttempt(id: number, claimToken: string, outcome: PostbackOutcome): Promise<boolean> {
    const delivered = outcome.state === 'delivered';
    const { rows } = await this.#db.write<{ recorded: number }>(
      statement('recordPostbackAttempt', [
        outcome.state,
        outcome.at,
        outcome.responseStatus,
        delivered ? null : outcome.error,
        outcome.state === 'pending' ? outcome.nextAttemptAt : null,
        delivered ? outcome.at : null,
        id,
        claimToken,
        outcome.state === 'failed' ? outcome.historyNote : null,
      ]),
    );
    return rows[0]!.recorded > 0;
  }
}

export function statement(name: StatementName, values: readonly unknown[]): SqlQuery {
  return { name, text: SQL[name], values };
}

function changeQuery(change: StatusChange): SqlQuery {
  const mask = changeMask(change);
  return { name: `change_${mask}`, text: changeSql(mask), values: changeValues(change) };
}

/** the command fields of a row that carries more (a record compares equal only with exactly its fields) */
export function commandRecord(row: CommandRecord): CommandRecord {
  return {
    id: row.id,
    userId: row.userId,
    deviceId: row.deviceId,
    type: row.type,
    payloadJson: row.payloadJson,
    appServiceName: row.appServiceName,
    packageFamilyName: row.packageFamilyName,
    permissionTicket: row.permissionTicket,
    postBackUri: row.postBackUri,
    status: row.status,
    error: row.error,
    responsePayloadJson: row.responsePayloadJson,
    customStatus: row.customStatus,
    createdAt: row.createdAt,
    lastModifiedAt: row.lastModifiedAt,
    expiresAt: row.expiresAt,
    attempts: row.attempts,
    dueAt: row.dueAt,
    batchId: row.batchId,
  };
}

/**
 * The changes of a chain, one statement each, the last sent with COMMIT; stops
 * at the first that does not apply. `locking`: the feed locks taken ahead of
 * the first change (its failure is the chain's).
 */
async function applyChain(tx: Transaction, changes: readonly StatusChange[], locking?: Promise<{ err: unknown } | undefined>): Promise<ChainResult> {
  const applied: TransitionResult[] = [];
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i]!;
    const query = changeQuery(change);
    const sent = i === changes.length - 1 ? tx.finish<ChangedRow>(query) : tx.query<ChangedRow>(query);
    const lockFailure = i === 0 ? await locking : undefined;
    if (lockFailure !== undefined) {
      sent.catch(() => undefined);
      throw lockFailure.err;
    }
    const [row] = (await sent).rows;
    if (row === undefined) return { applied, refusedAt: i };
    applied.push({
      command: commandRecord(row),
      history: historyEntry(row.historyId, row.id, row.sequence, row.status, row.lastModifiedAt, change.detail ?? null),
    });
  }
  return { applied };
}
