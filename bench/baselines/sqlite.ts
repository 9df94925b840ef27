// Baseline: raw SQLite (better-sqlite3, WAL, a temp dir): how many durable
// commits a second the disk allows with synchronous=FULL, one row each, and
// how many rows a second when 100 rows share a commit. Appia's embedded store
// pays at least one such commit per status change.
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { LatencyRecorder } from '../lib/latency.js';
import type { Scenario } from '../lib/scenario.js';
import { requestBody } from '../lib/shape.js';
import { now } from '../lib/time.js';

const rowsPerBatch = 100;
/** a slice of synchronous work between turns of the event loop (so SIGINT is heard) */
const sliceMs = 50;

export const sqlite: Scenario = {
  name: 'sqlite',
  title: 'raw SQLite commits (better-sqlite3, WAL, synchronous=FULL)',
  kind: 'baseline',
  async run(context) {
    const dir = context.processes.tempDir('sqlite');
    const db = new Database(join(dir, 'bench.db'));
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE command (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`);
      const insert = db.prepare('INSERT INTO command (id, device_id, status, body, created_at) VALUES (?, ?, ?, ?, ?)');
      const body = JSON.stringify(requestBody);
      let seq = 0;
      const insertOne = (): void => {
        seq++;
        insert.run(seq.toString(16).toUpperCase().padStart(16, '0'), `device-${seq % 100}`, 'requesting', body, new Date().toISOString());
      };
      const insertBatch = db.transaction(() => {
        for (let i = 0; i < rowsPerBatch; i++) insertOne();
      });

      context.progress(`one row per commit, ${context.timing.sqliteMs / 1000} s`);
      const single = await repeatFor(context.timing.sqliteMs, insertOne);
      context.progress(`${rowsPerBatch} rows per commit, ${context.timing.sqliteMs / 1000} s`);
      const batched = await repeatFor(context.timing.sqliteMs, insertBatch);

      return {
        figures: [
          { key: 'sqlite.fullCommitsPerSecond', label: 'single-row commits (FULL)', value: single.perSecond, unit: '/s', better: 'higher' },
          { key: 'sqlite.fullCommitP50Ms', label: 'single-row commit p50', value: single.latency.p50, unit: 'ms', better: 'lower' },
          { key: 'sqlite.fullCommitP99Ms', label: 'single-row commit p99', value: single.latency.p99, unit: 'ms', better: 'lower' },
          {
            key: 'sqlite.batchedRowsPerSecond',
            label: `rows, ${rowsPerBatch} per commit (FULL)`,
            value: batched.perSecond * rowsPerBatch,
            unit: '/s',
            better: 'higher',
          },
        ],
      };
    } finally {
      db.close();
    }
  },
};

/** Runs `work` back to back for `durationMs` (after a short warm-up), timing each call. */
async function repeatFor(durationMs: number, work: () => void): Promise<{ perSecond: number; latency: ReturnType<LatencyRecorder['summary']> }> {
  for (let i = 0; i < 20; i++) work();
  const recorder = new LatencyRecorder();
  const endAt = now() + durationMs;
  let t = now();
  while (t < endAt) {
    const sliceEnd = Math.min(endAt, t + sliceMs);
    while (t < sliceEnd) {
      const startedAt = t;
      work();
      t = now();
      recorder.record(t - startedAt);
    }
    await yieldToEventLoop();
    t = now();
  }
  const latency = recorder.summary();
  return { perSecond: latency.count / (durationMs / 1000), latency };
}
