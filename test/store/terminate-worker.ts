import { workerData } from 'node:worker_threads';
import pg from 'pg';

/**
 * Ends the backends of one application_name from another thread, then wakes
 * the test's thread, which sleeps in Atomics.wait meanwhile: its event loop
 * has not run, so the store has not yet noticed that its pooled connections
 * are dead when the test makes its next call (the race a real outage has).
 */
const { url, applicationName, signal } = workerData as { url: string; applicationName: string; signal: SharedArrayBuffer };
const flag = new Int32Array(signal);
const client = new pg.Client({ connectionString: url, application_name: `${applicationName}_terminator` });
let outcome = 2;
try {
  await client.connect();
  const { rows } = await client.query(
    'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = $1) ended',
    [applicationName],
  );
  outcome = rows[0].n > 0 ? 1 : 3;
} finally {
  await client.end().catch(() => undefined);
  Atomics.store(flag, 0, outcome);
  Atomics.notify(flag, 0);
}
