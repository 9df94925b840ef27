import type { DeviceRecord } from '../../domain/device.js';
import { decidePoll, deviceRemovedBeforeCollecting, uncollectedTokenHash, type PairingPollRow, type PollOutcome } from '../../domain/pairing.js';
import { insertPairingValues, pairedDevice, PAIRING_SQL, type PairingStatementName, type PendingPairingRow } from '../pairing-sql.js';
import type { NewPairing, PairingApproval, PairingStore } from '../pairings.js';
import { NEW_DEVICE_STATUS, newDeviceRecord, numbered } from '../sql-shared.js';
import { tooManyDevices, type CreateDeviceOptions } from '../store.js';
import type { SqlQuery } from './client.js';
import type { QueryRunner, Transaction } from './runner.js';
import { statement } from './writes.js';

/** the shared statements, numbered for PostgreSQL; the reads a decision follows lock their row */
const TEXT: Readonly<Record<PairingStatementName, string>> = Object.fromEntries(
  Object.entries(PAIRING_SQL).map(([name, sql]) => [name, numbered(sql) + (name === 'pendingByUserCode' || name === 'pollRow' ? ' FOR UPDATE' : '')]),
) as Record<PairingStatementName, string>;

function query(name: PairingStatementName, values: readonly unknown[]): SqlQuery {
  return { name: `pairing_${name}`, text: TEXT[name], values };
}

/**
 * DESIGN 10: the PostgreSQL store's pairings. Each call is one transaction;
 * the pairing's row is read FOR UPDATE, so of racing approvals or polls of
 * one pairing (on any nodes) the second waits and then finds it decided.
 */
export class PostgresPairings implements PairingStore {
  readonly #db: QueryRunner;

  constructor(db: QueryRunner) {
    this.#db = db;
  }

  async create(pairing: NewPairing, forgetBefore: number): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query(query('forgetPairings', [forgetBefore]));
      await tx.finish(query('insertPairing', insertPairingValues(pairing)));
    });
  }

  approve(approval: PairingApproval, options?: CreateDeviceOptions): Promise<DeviceRecord | undefined> {
    return this.#db.transaction(async (tx) => {
      const row = (await tx.query<PendingPairingRow>(query('pendingByUserCode', [approval.userCodeHash, approval.at]))).rows[0];
      if (row === undefined) return undefined;
      const device = pairedDevice(approval, row);
      await insertDevice(tx, device, options?.maxDevices ?? 0);
      await tx.finish(query('decidePairing', ['approved', approval.userId, approval.deviceId, approval.at, approval.collectUntil, row.idHash]));
      return newDeviceRecord(device);
    });
  }

  deny(userCodeHash: string, userId: string, at: number): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const row = (await tx.query<PendingPairingRow>(query('pendingByUserCode', [userCodeHash, at]))).rows[0];
      if (row === undefined) return false;
      return ((await tx.finish(query('decidePairing', ['denied', userId, null, at, at, row.idHash]))).rowCount ?? 0) === 1;
    });
  }

  poll(idHash: string, at: number, tokenHash: string): Promise<PollOutcome> {
    return this.#db.transaction(async (tx) => {
      const row = (await tx.query<PairingPollRow>(query('pollRow', [idHash]))).rows[0];
      let decision = decidePoll(row, at);
      if (decision === undefined) return { kind: 'unknown' } as const;
      if (decision.outcome.kind === 'issued' && (await tx.query(query('collectToken', [tokenHash, decision.outcome.deviceId, uncollectedTokenHash(idHash)]))).rowCount !== 1) {
        decision = deviceRemovedBeforeCollecting(decision);
      }
      await tx.finish(query('recordPoll', [at, decision.intervalMs, decision.state, idHash]));
      return decision.outcome;
    });
  }
}

/** createDevice's rows (DESIGN 8: counted under the user's row lock, so racing registrations never pass the limit) */
async function insertDevice(tx: Transaction, device: Parameters<typeof newDeviceRecord>[0], maxDevices: number): Promise<void> {
  await tx.query(statement('ensureUser', [device.userId]));
  if (maxDevices > 0) {
    await tx.query(statement('lockUser', [device.userId]));
    const count = (await tx.query<{ devices: number }>(statement('countDevices', [device.userId]))).rows[0]!.devices;
    if (count >= maxDevices) throw tooManyDevices(maxDevices);
  }
  await tx.query(
    statement('insertDevice', [device.id, device.userId, device.name, device.kind, device.platform, device.model, device.manufacturer, NEW_DEVICE_STATUS, device.tokenHash, device.createdAt]),
  );
}
