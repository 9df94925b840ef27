import { Worker } from 'node:worker_threads';
import { AppiaError } from '../../domain/errors.js';
import type { GroupCommit } from './group-commit.js';
import { errorFromWriteData, type WriteErrorData } from './errors.js';
import { isMultiStatement, runWrite, type WriteRequest } from './write-ops.js';
import type { SqliteWrites } from './writes.js';

/** Where the SQLite store's writes go: a group commit on the store's own connection, or the writer thread's. */
export interface Writer {
  /** queues a write; settles once its transaction is committed (or the write failed alone) */
  submit(request: WriteRequest): Promise<unknown>;
  /** the automatic checkpoint of the writing connection, in WAL pages */
  setAutocheckpoint(frames: number): void;
  /** commits (or sends and waits for) everything queued, then stops taking writes */
  close(): Promise<void>;
}

/** Writes on the store's own connection, in this thread (the default, and always for ':memory:'). */
export class InlineWriter implements Writer {
  readonly #group: GroupCommit;
  readonly #writes: SqliteWrites;
  readonly #setAutocheckpoint: (frames: number) => void;

  constructor(group: GroupCommit, writes: SqliteWrites, setAutocheckpoint: (frames: number) => void) {
    this.#group = group;
    this.#writes = writes;
    this.#setAutocheckpoint = setAutocheckpoint;
  }

  submit(request: WriteRequest): Promise<unknown> {
    return this.#group.submit(() => runWrite(this.#writes, request), isMultiStatement(request[0]));
  }

  setAutocheckpoint(frames: number): void {
    this.#setAutocheckpoint(frames);
  }

  async close(): Promise<void> {
    this.#group.flush();
  }
}

/** What the writer thread is started with (writer-thread.ts). */
export interface WriterThreadData {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs: number;
  readonly autocheckpointFrames?: number;
  readonly maxBatch: number;
}

/** main -> writer thread */
export type ToWriter =
  | { readonly kind: 'writes'; readonly writes: readonly WriteRequest[] }
  | { readonly kind: 'autocheckpoint'; readonly frames: number }
  | { readonly kind: 'close' };
/** one write's outcome, in the order the writes were sent */
export type WriteOutcome = readonly [ok: true, value: unknown] | readonly [ok: false, error: WriteErrorData];
/** writer thread -> main: outcomes in submission order, and how many transactions committed since the last message */
export type FromWriter = { readonly kind: 'results'; readonly results: readonly WriteOutcome[]; readonly commits: number };

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Writes on a worker thread with its own connection (writer-thread.ts), so
 * statements, COMMIT and its fsync never block this thread's event loop.
 * The writes of one turn of the loop go as one message (its name and
 * arguments each: write-ops.ts); the thread group-commits what arrives
 * together and answers with the outcomes in order. `onCommitted` runs
 * before any promise of a message settles: the store ends its read
 * transaction there, so whatever runs after a write has settled reads it.
 */
export class ThreadWriter implements Writer {
  readonly #worker: Worker;
  readonly #maxBatch: number;
  readonly #onCommitted: (commits: number) => void;
  #outgoing: WriteRequest[] = [];
  /** sent and queued writes, oldest first (`#head` is the next to settle) */
  #pending: Pending[] = [];
  #head = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #failure: AppiaError | undefined;
  #closing = false;
  readonly #exited: Promise<void>;
  readonly #sendSoon = () => {
    this.#scheduled = undefined;
    this.#send();
  };

  constructor(data: WriterThreadData, onCommitted: (commits: number) => void, workerUrl = new URL('./writer-thread.js', import.meta.url)) {
    this.#maxBatch = data.maxBatch;
    this.#onCommitted = onCommitted;
    this.#worker = new Worker(workerUrl, { workerData: data });
    // only writes in flight keep the process alive (ref'd while any are pending)
    this.#worker.unref();
    this.#worker.on('message', (message: FromWriter) => this.#settle(message));
    let error: unknown;
    this.#worker.on('error', (err) => void (error = err));
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        this.#fail(new AppiaError('unavailable', 'the SQLite writer thread stopped', { cause: error ?? new Error(`exit code ${code}`), retryAfter: 1 }));
        resolve();
      });
    });
  }

  submit(request: WriteRequest): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#outgoing.push(request);
      if (this.#outgoing.length >= this.#maxBatch) this.#send();
      else this.#scheduled ??= setImmediate(this.#sendSoon);
    });
  }

  setAutocheckpoint(frames: number): void {
    if (!this.#failure) this.#post({ kind: 'autocheckpoint', frames });
  }

  async close(): Promise<void> {
    if (!this.#failure && !this.#closing) {
      this.#closing = true;
      this.#send();
      // whoever awaits the close keeps the process alive until the thread is done
      this.#worker.ref();
      this.#post({ kind: 'close' });
    }
    await this.#exited;
  }

  #send(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    if (this.#outgoing.length === 0) return;
    const writes = this.#outgoing;
    this.#outgoing = [];
    this.#worker.ref();
    this.#post({ kind: 'writes', writes });
  }

  #post(message: ToWriter): void {
    this.#worker.postMessage(message);
  }

  #settle(message: FromWriter): void {
    this.#onCommitted(message.commits);
    for (const outcome of message.results) {
      const pending = this.#pending[this.#head]!;
      this.#pending[this.#head++] = undefined as unknown as Pending;
      if (outcome[0]) pending.resolve(outcome[1]);
      else pending.reject(errorFromWriteData(outcome[1]));
    }
    if (this.#head === this.#pending.length) {
      this.#pending = [];
      this.#head = 0;
      if (this.#outgoing.length === 0 && !this.#closing) this.#worker.unref();
    } else if (this.#head > 1024) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The thread is gone: every write not yet settled, and every later one, fails. */
  #fail(failure: AppiaError): void {
    this.#failure ??= failure;
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    this.#outgoing = [];
    for (const p of pending) p.reject(this.#failure);
  }
}
