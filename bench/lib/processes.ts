import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorText, settlesWithin, withTimeout } from './time.js';

/** A process the benchmark started; `stop()` ends it (gently, then SIGKILL). */
export interface StartedProcess {
  readonly name: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Every role a worker process can run, by name: bench/roles.ts fills it in
 * (declaration merging), so this module needs no import of the roles.
 */
export interface RoleRegistry {}
export type RoleName = keyof RoleRegistry & string;
type RoleFn<K extends RoleName> = RoleRegistry[K] extends (options: infer O) => Promise<{ info: infer I }> ? { options: O; info: I } : never;
export type RoleOptions<K extends RoleName> = RoleFn<K>['options'];
export type RoleInfo<K extends RoleName> = RoleFn<K>['info'];

/** What the parent tells a worker (bench/worker.ts), and what it answers. */
export type ParentMessage = { type: 'start'; role: RoleName; options: unknown } | { type: 'stop' };
export type WorkerMessage = { type: 'ready'; info: unknown } | { type: 'failed'; error: string };

/** A worker process running one role from bench/roles.ts. */
export interface StartedWorker<K extends RoleName> extends StartedProcess {
  readonly info: RoleInfo<K>;
}

interface Tracked {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** the last output, to explain an early exit */
  tail: string;
  stopping: boolean;
}

const workerEntry = fileURLToPath(new URL('../worker.js', import.meta.url));
const stopGraceMs = 3000;

/**
 * Children run in their own process group (detached), so a Ctrl-C reaches
 * only the benchmark, which then stops them in order.
 *
 * Starts processes and temp dirs for the benchmark and guarantees their end:
 * `stopAll()` at the end of each scenario and of the run, and a synchronous
 * SIGKILL of anything left when this process exits for any reason (error,
 * SIGINT, SIGTERM). Workers also exit by themselves when their parent goes
 * away (their IPC channel closes).
 */
export class ProcessTracker {
  readonly #tracked = new Map<number, Tracked>();
  readonly #tempDirs = new Set<string>();

  /** Spawns a program; its output is kept (the tail) for error messages. */
  spawn(name: string, command: string, args: readonly string[]): StartedProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tracked = this.#track(name, child);
    return { name, pid: tracked.child.pid!, stop: () => this.#stop(tracked, 'SIGTERM') };
  }

  /** Forks dist/bench/worker.js running `role`; resolves once the role is ready. */
  async startWorker<K extends RoleName>(role: K, options: RoleOptions<K>, name: string = role): Promise<StartedWorker<K>> {
    const child = fork(workerEntry, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: ['--enable-source-maps'],
      serialization: 'advanced',
      detached: true,
    });
    const tracked = this.#track(name, child);
    const ready = new Promise<RoleInfo<K>>((resolve, reject) => {
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') resolve(message.info as RoleInfo<K>);
        else if (message.type === 'failed') reject(new Error(`${name}: ${message.error}`));
      });
      tracked.exited.then(() => reject(new Error(`${name} exited before it was ready: ${tracked.tail.trim()}`)));
    });
    child.send({ type: 'start', role, options } satisfies ParentMessage);
    try {
      const info = await withTimeout(ready, 30_000, `${name} was not ready within 30 s`);
      return { name, pid: child.pid!, info, stop: () => this.#stop(tracked, 'stop') };
    } catch (error) {
      await this.#stop(tracked, 'SIGKILL');
      throw error;
    }
  }

  /** A fresh directory under the OS temp dir, removed by `stopAll()` and on exit. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), `appia-bench-${prefix}-`));
    this.#tempDirs.add(dir);
    return dir;
  }

  get running(): number {
    return this.#tracked.size;
  }

  /** The processes running now. */
  list(): { name: string; pid: number }[] {
    return [...this.#tracked].map(([pid, t]) => ({ name: t.name, pid }));
  }

  /** Stops every process started so far (in parallel) and removes the temp dirs. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#tracked.values()].map((t) => this.#stop(t, t.child.channel ? 'stop' : 'SIGTERM')));
    this.#removeTempDirs();
  }

  /** Last resort, synchronous (usable in an 'exit' handler). */
  killAllNow(): void {
    for (const t of this.#tracked.values()) {
      try {
        t.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    this.#removeTempDirs();
  }

  /**
   * SIGINT / SIGTERM stop everything and exit; any other exit (an uncaught
   * error included) kills what is left synchronously.
   */
  installExitHandlers(log: (line: string) => void): void {
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (interrupted) return this.killAllNow(), process.exit(130);
      interrupted = true;
      log(`\n${signal}: stopping ${this.running} process(es) the benchmark started`);
      void withTimeout(this.stopAll(), 5000, 'stop timed out')
        .catch(() => this.killAllNow())
        .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', () => this.killAllNow());
  }

  #track(name: string, child: ChildProcess): Tracked {
    if (child.pid === undefined) {
      // spawn failures (ENOENT) arrive later as 'error'; report them here instead
      child.once('error', () => {});
      throw new Error(`${name}: could not start`);
    }
    const pid = child.pid;
    const tracked: Tracked = {
      name,
      child,
      tail: '',
      stopping: false,
      exited: new Promise<void>((resolve) => child.once('exit', () => resolve())),
    };
    const keepTail = (chunk: Buffer): void => {
      tracked.tail = (tracked.tail + chunk.toString()).slice(-2000);
    };
    child.stdout?.on('data', keepTail);
    child.stderr?.on('data', keepTail);
    child.on('error', (error) => keepTail(Buffer.from(`\n${errorText(error)}\n`)));
    child.once('exit', (code, signal) => {
      this.#tracked.delete(pid);
      if (!tracked.stopping) {
        process.stderr.write(`bench: ${name} (pid ${pid}) exited unexpectedly (${signal ?? code}): ${tracked.tail.trim()}\n`);
      }
    });
    this.#tracked.set(pid, tracked);
    return tracked;
  }

  async #stop(tracked: Tracked, how: 'stop' | NodeJS.Signals): Promise<void> {
    if (tracked.child.exitCode !== null || tracked.child.signalCode !== null) return;
    tracked.stopping = true;
    if (how === 'stop' && tracked.child.connected) tracked.child.send({ type: 'stop' } satisfies ParentMessage);
    else tracked.child.kill(how === 'stop' ? 'SIGTERM' : how);
    if (!(await settlesWithin(tracked.exited, stopGraceMs))) {
      tracked.child.kill('SIGKILL');
      await tracked.exited;
    }
  }

  #removeTempDirs(): void {
    for (const dir of this.#tempDirs) rmSync(dir, { recursive: true, force: true });
    this.#tempDirs.clear();
  }
}
