import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type CheckpointWorkerData, CHECKPOINTS, COMMITS, STOP, WAKE } from './checkpointer.js';

/**
 * The background checkpointer's thread (see checkpointer.ts): its own
 * connection to the database file copies committed WAL frames into the
 * database with PASSIVE checkpoints, which never wait for or block the
 * writer, so the main thread's commits no longer pay for it.
 */
const { path, synchronous, intervalMs, busyTimeoutMs, state } = workerData as CheckpointWorkerData;
const shared = new Int32Array(state);

const db = new Database(path, { fileMustExist: true });
try {
  db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  // A checkpoint syncs as its own connection's setting says: with OFF it would
  // copy frames into the database file without syncing it, and the WAL could
  // then be reused while those pages are not yet on disk.
  db.pragma(`synchronous = ${synchronous}`);

  const checkpoint = db.prepare<[], { busy: number; log: number; checkpointed: number }>('PRAGMA wal_checkpoint(PASSIVE)');
  let seen = Atomics.load(shared, COMMITS);
  // the last pass left frames behind (written while it ran): go again even without new commits.
  // It starts true: the WAL may already hold frames this thread has not seen
  // counted (the migrations, and every commit made before it came up, which
  // under load can be all of them); without a first pass they would wait for
  // the next commit, or for close().
  let behind = true;
  for (;;) {
    if (Atomics.load(shared, STOP) !== 0) break;
    Atomics.wait(shared, WAKE, 0, intervalMs);
    Atomics.store(shared, WAKE, 0);
    if (Atomics.load(shared, STOP) !== 0) break;
    const commits = Atomics.load(shared, COMMITS);
    if (commits === seen && !behind) continue;
    seen = commits;
    try {
      const result = checkpoint.get()!;
      behind = result.busy !== 0 || result.checkpointed < result.log;
      Atomics.add(shared, CHECKPOINTS, 1);
      Atomics.notify(shared, CHECKPOINTS);
    } catch (err) {
      // another connection holds a lock for longer than the busy timeout: try again later
      if (!(err instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(err.code))) throw err;
      behind = true;
    }
  }
  // the last one: whatever was committed before close() is copied now (and
  // if it cannot be, closing the store's own connection, the last, does it)
  checkpoint.get();
} finally {
  db.close();
}
