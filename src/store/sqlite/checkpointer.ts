import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the main thread.
 *
 * In WAL mode every commit appends pages to the `-wal` file; a checkpoint
 * copies them back into the database file (and syncs it) so the WAL can start
 * over. SQLite's own automatic checkpoint runs inside COMMIT, on the thread
 * that committed: every ~1000 pages one commit stalls the event loop for
 * milliseconds. Here a worker thread with its own connection runs PASSIVE
 * checkpoints (they neither wait for nor block the writer) a moment after
 * commits, woken every `wakeEveryCommits` commits or `intervalMs`.
 *
 * The WAL still cannot grow without bound:
 * - the main connection keeps SQLite's automatic checkpoint, at
 *   BACKSTOP_FRAMES (4000 pages, about 16 MiB) instead of 1000. The WAL only
 *   starts over when a write begins while every frame is already copied,
 *   which a writer that never pauses leaves no chance for; under such a load
 *   the WAL reaches the backstop, and the committing thread then copies the
 *   few frames the worker has not yet (its cost is mostly one fsync) once per
 *   4000 pages, where SQLite alone copied all of them every 1000. If the
 *   worker falls behind, the backstop does the whole work as before.
 * - if the worker fails, `onFailure` runs (the store puts the automatic
 *   checkpoint back to SQLite's default of 1000 pages).
 *
 * `close()` makes the worker run one last checkpoint, close its connection
 * and exit; it resolves after the exit.
 */
export class BackgroundCheckpointer {
  readonly #worker: Worker;
  readonly #state: Int32Array;
  readonly #wakeEveryCommits: number;
  readonly #exited: Promise<void>;
  #commits = 0;
  #sinceWake = 0;
  #running = true;
  #stopping = false;

  constructor(options: CheckpointerOptions) {
    this.#state = new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
    this.#wakeEveryCommits = options.wakeEveryCommits ?? DEFAULT_WAKE_EVERY_COMMITS;
    const data: CheckpointWorkerData = {
      path: options.path,
      synchronous: options.synchronous,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
      busyTimeoutMs: options.busyTimeoutMs ?? 1000,
      state: this.#state.buffer as SharedArrayBuffer,
    };
    this.#worker = new Worker(options.workerUrl ?? new URL('./checkpoint-worker.js', import.meta.url), { workerData: data });
    // an open store alone must not keep the process alive
    this.#worker.unref();
    let failure: unknown;
    this.#worker.on('error', (err) => {
      failure = err;
    });
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        this.#running = false;
        if (!this.#stopping) options.onFailure(failure ?? new Error(`the WAL checkpointer exited (code ${code})`));
        resolve();
      });
    });
  }

  /** whether the worker thread is still there */
  get running(): boolean {
    return this.#running;
  }

  /** Called after each COMMIT: counts it, and wakes the worker every `wakeEveryCommits`. */
  committed(): void {
    Atomics.store(this.#state, COMMITS, ++this.#commits | 0);
    if (++this.#sinceWake >= this.#wakeEveryCommits) {
      this.#sinceWake = 0;
      this.#wake();
    }
  }

  /**
   * Resolves after the worker's next completed checkpoint (true), or false
   * when none completes within `timeoutMs` (diagnostics and tests).
   */
  async nextCheckpoint(timeoutMs: number): Promise<boolean> {
    const done = Atomics.load(this.#state, CHECKPOINTS);
    const waited = Atomics.waitAsync(this.#state, CHECKPOINTS, done, timeoutMs);
    // an async wait does not keep the event loop alive by itself
    const alive = setTimeout(() => {}, timeoutMs);
    try {
      return (waited.async ? await waited.value : waited.value) !== 'timed-out';
    } finally {
      clearTimeout(alive);
    }
  }

  /** Stops the worker after a last checkpoint; resolves when it has exited. */
  close(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      // whoever awaits the close keeps the process alive until the worker is done
      this.#worker.ref();
      Atomics.store(this.#state, STOP, 1);
      this.#wake();
    }
    return this.#exited;
  }

  #wake(): void {
    Atomics.store(this.#state, WAKE, 1);
    Atomics.notify(this.#state, WAKE);
  }
}

export interface CheckpointerOptions {
  /** the database file */
  readonly path: string;
  /** the store's setting: checkpoints sync the database file as it says */
  readonly synchronous: 'FULL' | 'NORMAL';
  /** called once if the worker fails or exits before close() */
  readonly onFailure: (err: unknown) => void;
  /** the longest wait between checkpoints while there are commits (default 50 ms) */
  readonly intervalMs?: number;
  /** commits after which the worker is woken at once (default 256) */
  readonly wakeEveryCommits?: number;
  readonly busyTimeoutMs?: number;
  /** the worker's script (tests) */
  readonly workerUrl?: URL;
}

/** The automatic checkpoint of the main connection while a background checkpointer runs, in WAL pages. */
export const BACKSTOP_FRAMES = 4000;
/** SQLite's default automatic checkpoint, in WAL pages, put back when the worker fails. */
export const DEFAULT_AUTOCHECKPOINT_FRAMES = 1000;

const DEFAULT_INTERVAL_MS = 50;
const DEFAULT_WAKE_EVERY_COMMITS = 256;

// The shared Int32Array between the store and its worker.
/** commits so far (wraps; only compared for equality) */
export const COMMITS = 0;
/** 1: wake up (set with Atomics.notify) */
export const WAKE = 1;
/** 1: run a last checkpoint and exit */
export const STOP = 2;
/** checkpoints the worker has completed (it notifies on this slot after each) */
export const CHECKPOINTS = 3;
const SLOTS = 4;

export interface CheckpointWorkerData {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly intervalMs: number;
  readonly busyTimeoutMs: number;
  readonly state: SharedArrayBuffer;
}
