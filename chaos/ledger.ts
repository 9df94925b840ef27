import { readFileSync } from 'node:fs';
import { FINAL_STATUSES } from '../src/domain/policy.js';
import type { Delivered } from './receiver.js';

/** A command the client got a 201 for. */
export interface Accepted {
  readonly deviceId: string;
  readonly postback: boolean;
}

/** A command as the server lists it at the end. */
export interface Stored {
  readonly status: string;
  readonly responsePayload: { readonly nonce?: string } | null;
}

/** What the harness saw and did, for one phase (one server or cluster). */
export class Ledger {
  readonly accepted = new Map<string, Accepted>();
  /** the device processes that were SIGKILLed (their pids) */
  readonly killedPids = new Set<number>();
  /** every ledger file the device processes wrote */
  readonly files: string[] = [];
  readonly faults = new Map<string, number>();
  kills = 0;
  createsRefused = 0;

  fault(kind: string, kill: boolean): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
    if (kill) this.kills++;
  }
}

/** What the checks found; `failures` empty means every promise held. */
export interface Verdict {
  accepted: number;
  final: number;
  lost: number;
  duplicateRuns: number;
  /** duplicate runs that followed a SIGKILL of the process that ran the command first */
  duplicatesAfterKill: number;
  postbacksRepeated: number;
  cuts: Map<string, number>;
  byStatus: Map<string, number>;
  failures: string[];
}

const FINAL = new Set<string>(FINAL_STATUSES);
/** the status a final report makes (DESIGN 4) */
const STATUS_OF_REPORT: Record<string, string> = {
  completed: 'completed',
  failed: 'executionFailed',
  canceled: 'canceled',
  dropped: 'commandDropped',
};

export function isFinalStatus(status: string): boolean {
  return FINAL.has(status);
}

export function check(ledger: Ledger, stored: Map<string, Stored>, postbacks: Map<string, Delivered[]>): Verdict {
  const v: Verdict = { accepted: ledger.accepted.size, final: 0, lost: 0, duplicateRuns: 0, duplicatesAfterKill: 0, postbacksRepeated: 0, cuts: new Map(), byStatus: new Map(), failures: [] };
  const fail = (what: string): void => {
    v.failures.push(what);
  };
  const runs = new Map<string, string[]>();
  const acked = new Map<string, { t: string; nonce: string }[]>();
  for (const file of ledger.files) {
    for (const text of readFileSync(file, 'utf8').split('\n')) {
      const [kind, a, b, c] = text.split(' ');
      if (kind === 'run') (runs.get(a!) ?? runs.set(a!, []).get(a!)!).push(b!);
      else if (kind === 'acked') (acked.get(a!) ?? acked.set(a!, []).get(a!)!).push({ t: b!, nonce: c! });
      else if (kind === 'cut') v.cuts.set(a!, (v.cuts.get(a!) ?? 0) + 1);
    }
  }

  for (const [id, accepted] of ledger.accepted) {
    const record = stored.get(id);
    if (!record) {
      v.lost++;
      fail(`command ${id} was answered 201 but the server does not have it`);
      continue;
    }
    v.byStatus.set(record.status, (v.byStatus.get(record.status) ?? 0) + 1);
    if (isFinalStatus(record.status)) v.final++;
    else {
      v.lost++;
      fail(`command ${id} never reached a final status (it is ${record.status})`);
    }
    if (record.status === 'error') fail(`command ${id} ended in error`);
    if (accepted.postback) checkPostbacks(id, record, postbacks.get(id) ?? [], v, fail);
  }

  for (const [id, nonces] of runs) {
    if (nonces.length < 2) continue;
    v.duplicateRuns += nonces.length - 1;
    for (let i = 1; i < nonces.length; i++) {
      const earlierPid = Number(nonces[i - 1]!.split('-')[0]);
      const laterPid = Number(nonces[i]!.split('-')[0]);
      if (earlierPid !== laterPid && ledger.killedPids.has(earlierPid)) v.duplicatesAfterKill++;
      else fail(`the handler of command ${id} ran twice without a device process kill (${nonces.join(', ')})`);
    }
  }

  for (const [id, reports] of acked) {
    const record = stored.get(id);
    if (!ledger.accepted.has(id) && !record) continue; // a create whose answer never came back
    const statuses = new Set(reports.map((r) => STATUS_OF_REPORT[r.t]));
    if (!record || !statuses.has(record.status)) {
      fail(`command ${id}: the device's ${reports.map((r) => r.t).join('/')} was acked, but it is stored ${record?.status ?? 'nowhere'}`);
      continue;
    }
    if (record.status === 'completed') {
      const nonces = reports.filter((r) => r.t === 'completed').map((r) => r.nonce);
      if (!nonces.includes(record.responsePayload?.nonce ?? '')) {
        fail(`command ${id}: the acked result ${nonces.join('/')} is not the stored one (${JSON.stringify(record.responsePayload)})`);
      }
    }
  }
  return v;
}

/** DESIGN 6: delivered in order, no gap in `sequence`, through the final status (repeats of the head allowed) */
function checkPostbacks(id: string, record: Stored, got: readonly Delivered[], v: Verdict, fail: (what: string) => void): void {
  let next = 1;
  for (const d of got) {
    if (d.sequence === next) next++;
    else if (d.sequence === next - 1) v.postbacksRepeated++;
    else {
      fail(`command ${id}: postback ${d.sequence} arrived after ${next - 1} (${got.map((g) => g.sequence).join(',')})`);
      return;
    }
  }
  const last = got.at(-1);
  if (!last || last.status !== record.status) {
    fail(`command ${id}: postbacks stop at ${next - 1} (${last?.status ?? 'none'}) but it is ${record.status}`);
  }
}
