import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';

const BINARY = process.env['APPIA_TEST_NATS_SERVER'] || '/usr/sbin/nats-server';

/** false when a private nats-server can be started here; else the reason, for node:test's `skip` */
export const ownServerSkip: false | string = existsSync(BINARY)
  ? false
  : `no nats-server binary at ${BINARY} (set APPIA_TEST_NATS_SERVER) for the fault stories`;

/**
 * A nats-server of the test's own on a loopback port, which the test may
 * stop, restart on the same port, or freeze, without touching the shared
 * one. Always `stop()` it (t.after / finally).
 *
 * @example
 * const server = await OwnNatsServer.start();
 * t.after(() => server.stop());
 */
export class OwnNatsServer {
  #child: ChildProcess | undefined;
  #frozen = false;

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[],
  ) {}

  /** starts on a free port the server picks itself; `args` are added to the command line (e.g. `--user`) */
  static async start(args: readonly string[] = []): Promise<OwnNatsServer> {
    const { child, port } = await launch(-1, args);
    const server = new OwnNatsServer(port, args);
    server.#child = child;
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** stops the process and waits for it to exit; does nothing when it is not running */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (this.#frozen) child.kill('SIGCONT');
    this.#frozen = false;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** starts it again on the same port */
  async restart(): Promise<void> {
    await this.stop();
    this.#child = (await launch(this.port, this.extraArgs)).child;
  }

  /** SIGSTOP: the socket stays open but nothing answers */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
    this.#frozen = true;
  }

  thaw(): void {
    this.#child?.kill('SIGCONT');
    this.#frozen = false;
  }
}

function launch(port: number, args: readonly string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    let ready = false;
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${log}`));
    });
    // the pipe is read to its end even after start, or nats-server would block on a full pipe
    child.stderr!.on('data', (chunk: Buffer) => {
      if (ready) return;
      log += chunk.toString();
      const listening = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (listening && /Server is ready/.test(log)) {
        ready = true;
        resolve({ child, port: Number(listening[1]) });
      }
    });
  });
}
