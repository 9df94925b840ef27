import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { servicesRequired } from '../support/services.js';

const BINARY = process.env['APPIA_TEST_NATS_SERVER'] || '/usr/sbin/nats-server';

/** false when a private nats-server can be started here; else the reason, for node:test's `skip` (a failure in CI) */
export const ownServerSkip: false | string = findBinary();

function findBinary(): false | string {
  if (existsSync(BINARY)) return false;
  const reason = `no nats-server binary at ${BINARY} for the fault stories; set APPIA_TEST_NATS_SERVER to use another`;
  if (servicesRequired()) throw new Error(`${reason}. APPIA_REQUIRE_SERVICES=1, so this is a failure, not a skip`);
  process.stderr.write(`# SKIP NATS fault stories: ${reason}\n`);
  return reason;
}

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

  /** SIGSTOP: the socket stays open but nothing answers. Resolves once the kernel shows the process stopped. */
  async freeze(): Promise<void> {
    const child = this.#child;
    if (!child?.pid) throw new Error('nats-server is not running');
    child.kill('SIGSTOP');
    this.#frozen = true;
    // the signal lands asynchronously; until then the server could still answer a PING
    while (processState(child.pid) !== 'T') await new Promise((resolve) => setImmediate(resolve));
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

/** the state letter from /proc/PID/stat (Linux): 'T' once stopped by a signal */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}
