import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from './connection.js';
import { storeError, writeErrorData } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { prepareStatements } from './statements.js';
import { isMultiStatement, runWrite } from './write-ops.js';
import type { FromWriter, ToWriter, WriteOutcome, WriterThreadData } from './writer.js';
import { SqliteWrites } from './writes.js';

/**
 * The SQLite store's writer thread (see ThreadWriter in writer.ts): its own
 * connection runs every write of the store, by name (write-ops.ts), in
 * GroupCommit batches: the writes of the messages that arrive while a batch
 * commits go together in the next one. Outcomes go back in the order the
 * writes came, each only after its COMMIT has returned.
 */
const data = workerData as WriterThreadData;
const port = parentPort!;
const db = openConnection(data.path, data, { fileMustExist: true });
const writes = new SqliteWrites(db, prepareStatements(db));
let commits = 0;
const group = new GroupCommit(db, { maxBatch: data.maxBatch, translate: storeError, onCommit: () => void commits++ });

let results: WriteOutcome[] = [];
let posting = false;
// Every outcome of a batch is pushed by a reaction queued while the batch settled; this microtask runs after them all.
const post = () => {
  posting = false;
  const message: FromWriter = { kind: 'results', results, commits };
  results = [];
  commits = 0;
  port.postMessage(message);
};
const push = (outcome: WriteOutcome) => {
  results.push(outcome);
  if (!posting) {
    posting = true;
    queueMicrotask(post);
  }
};
const ok = (value: unknown) => push([true, value]);
const failed = (err: unknown) => push([false, writeErrorData(err)]);

port.on('message', (message: ToWriter) => {
  switch (message.kind) {
    case 'writes':
      for (const request of message.writes) group.submit(() => runWrite(writes, request), isMultiStatement(request[0])).then(ok, failed);
      return;
    case 'autocheckpoint':
      db.pragma(`wal_autocheckpoint = ${Math.trunc(message.frames)}`);
      return;
    case 'close':
      group.flush();
      // after the outcomes of that last batch are posted (microtasks)
      setImmediate(() => {
        db.close();
        port.close();
      });
      return;
  }
});
