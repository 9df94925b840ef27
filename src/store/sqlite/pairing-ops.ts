import type { DeviceRecord } from '../../domain/device.js';
import { decidePoll, deviceRemovedBeforeCollecting, uncollectedTokenHash, type PairingPollRow, type PollOutcome } from '../../domain/pairing.js';
import { insertPairingValues, pairedDevice, PAIRING_SQL, type PendingPairingRow } from '../pairing-sql.js';
import type { NewPairing, PairingApproval } from '../pairings.js';
import type { CreateDeviceOptions } from '../store.js';
import { statementsOf } from './op-statements.js';
import type { SqliteWrites } from './writes.js';

/** the pairing statements of each writing connection */
const statements = statementsOf(PAIRING_SQL);

function createPairing(w: SqliteWrites, pairing: NewPairing, forgetBefore: number): void {
  const s = statements(w);
  s.forgetPairings.run(forgetBefore);
  s.insertPairing.run(...insertPairingValues(pairing));
}

/** DESIGN 10: the device is registered and the pairing decided in one transaction: of racing approvals one wins */
function approvePairing(w: SqliteWrites, approval: PairingApproval, options: CreateDeviceOptions | undefined): DeviceRecord | undefined {
  const s = statements(w);
  const row = s.pendingByUserCode.get(approval.userCodeHash, approval.at) as PendingPairingRow | undefined;
  if (row === undefined) return undefined;
  const device = w.insertDevice(pairedDevice(approval, row), options);
  s.decidePairing.run('approved', approval.userId, approval.deviceId, approval.at, approval.collectUntil, row.idHash);
  return device;
}

function denyPairing(w: SqliteWrites, userCodeHash: string, userId: string, at: number): boolean {
  const s = statements(w);
  const row = s.pendingByUserCode.get(userCodeHash, at) as PendingPairingRow | undefined;
  if (row === undefined) return false;
  return s.decidePairing.run('denied', userId, null, at, at, row.idHash).changes === 1;
}

function pollPairing(w: SqliteWrites, idHash: string, at: number, tokenHash: string): PollOutcome {
  const s = statements(w);
  let decision = decidePoll(s.pollRow.get(idHash) as PairingPollRow | undefined, at);
  if (decision === undefined) return { kind: 'unknown' };
  if (decision.outcome.kind === 'issued' && s.collectToken.run(tokenHash, decision.outcome.deviceId, uncollectedTokenHash(idHash)).changes !== 1) {
    decision = deviceRemovedBeforeCollecting(decision);
  }
  s.recordPoll.run(at, decision.intervalMs, decision.state, idHash);
  return decision.outcome;
}

/**
 * DESIGN 10: the pairing writes of the SQLite store, spread into WRITE_OPS
 * (write-ops.ts; each has that table's WriteOp shape).
 */
export const PAIRING_WRITE_OPS = {
  createPairing: { multiStatement: true, run: createPairing },
  approvePairing: { multiStatement: true, run: approvePairing },
  denyPairing: { multiStatement: false, run: denyPairing },
  pollPairing: { multiStatement: true, run: pollPairing },
} as const;
