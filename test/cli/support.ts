import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The real `appia` bin, as a user runs it. */
export const BIN = new URL('../../../bin/appia.js', import.meta.url).pathname;

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A PATH with no `appia` on it (an empty folder): the CLI's hints then read
 * `npx appia ...`, as from a checkout, whatever this machine has installed.
 */
export async function pathWithoutAppia(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'appia-empty-path-'));
}

/** Runs `node bin/appia.js ARGS` to its end (in `cwd` when given). */
export function appiaCli(args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, ...(cwd ? { cwd } : {}) }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** An `appia` run whose stdout a test can wait on while it runs, and then read to its end. */
export interface WatchedRun {
  /** resolves once stdout matches, while the process still runs */
  printed(pattern: RegExp): Promise<void>;
  /** what it printed so far */
  output(): string;
  done(): Promise<Run>;
}

/** Starts `node bin/appia.js ARGS`, its stdout and stderr kept apart (CliProcess mixes them). */
export function watchCli(args: readonly string[], env: NodeJS.ProcessEnv): WatchedRun {
  const child = spawn(process.execPath, [BIN, ...args], { env });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const w of [...waiters]) if (w.pattern.test(stdout)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)));
  return {
    printed: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stdout)) return resolve();
        waiters.push({ pattern, resolve });
        void exited.then(() => reject(new Error(`exited without printing ${pattern}; stdout:\n${stdout}\nstderr:\n${stderr}`)));
      }),
    output: () => stdout,
    done: async () => ({ code: await exited, stdout, stderr }),
  };
}

/** A long-running `appia` process (an agent, a server), whose output a test can wait on. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  output = '';
  closed = false;
  readonly exited: Promise<number | null>;
  readonly #waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }> = [];

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [BIN, ...args], { env });
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code) => {
        this.closed = true;
        resolve(code);
      }),
    );
    const take = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const w of [...this.#waiters]) {
        const m = this.output.match(w.pattern);
        if (m) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };
    this.child.stdout.on('data', take);
    this.child.stderr.on('data', take);
    void this.exited.then(() => {
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`exited without printing ${w.pattern}; output:\n${this.output}`));
    });
  }

  /** resolves when the output so far matches; rejects if the process ends first */
  printed(pattern: RegExp): Promise<RegExpMatchArray> {
    const m = this.output.match(pattern);
    if (m) return Promise.resolve(m);
    if (this.closed) return Promise.reject(new Error(`exited without printing ${pattern}; output:\n${this.output}`));
    return new Promise((resolve, reject) => this.#waiters.push({ pattern, resolve, reject }));
  }

  /** sends the signal and resolves with the exit code */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.closed) return this.child.exitCode;
    this.child.kill(signal);
    return this.exited;
  }

  /** ends it for good (a test's cleanup) */
  async kill(): Promise<void> {
    if (this.closed) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
