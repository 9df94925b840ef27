import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/appia.js', import.meta.url));

/** a free loopback port, picked by the kernel */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One `appia serve` process on a fixed loopback port, so that a restart after
 * a SIGKILL serves on the same address with the same data (`--data`, and the
 * database URL for a cluster node). Its stderr goes to a log file of the run.
 */
export class AppiaNode {
  #child: ChildProcess | undefined;
  up = false;
  readonly #log: WriteStream;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly args: readonly string[],
    logFile: string,
  ) {
    this.#log = createWriteStream(logFile, { flags: 'a' });
  }

  static async start(name: string, dataDir: string, flags: readonly string[], logFile: string): Promise<AppiaNode> {
    const node = new AppiaNode(name, await freePort(), ['--data', dataDir, ...flags], logFile);
    await node.restart();
    return node;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** starts it (again), retrying while it cannot start yet (its port still held, its database cut) */
  async restart(deadlineMs = 60_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        await this.#launch();
        this.up = true;
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await sleep(300);
      }
    }
  }

  /** SIGKILL: no shutdown, no flush */
  async kill(): Promise<void> {
    this.up = false;
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** a graceful stop (SIGTERM), for the end of a run */
  async stop(): Promise<void> {
    this.up = false;
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    this.#log.end();
  }

  #launch(): Promise<void> {
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', String(this.port), '--log-level', process.env['CHAOS_NODE_LOG'] || 'silent', ...this.args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.pipe(this.#log, { end: false });
    return new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer): void => {
        this.#log.write(chunk);
        if (this.#child === child) return;
        out += String(chunk);
        if (/Appia listening on/.test(out)) {
          this.#child = child;
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code, signal) => {
        if (this.#child === child) this.up = false;
        reject(new Error(`${this.name} exited (${code ?? signal}) before it listened`));
      });
    });
  }
}
