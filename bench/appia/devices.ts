// The device side of the Appia scenarios, each run in a worker process
// (bench/roles.ts):
// - `appia-devices`: devices on the real device SDK (appia/device), each
//   answering the benchmark's AppService at once with the shape's reply;
// - `appia-idle-devices`: many lightweight raw `ws` connections speaking
//   DESIGN 4 just enough to hold a connection and answer `received`, driven
//   over a small HTTP control port (connect all, wait until K commands came).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { loopback } from '../lib/ports.js';
import type { RunningRole } from '../lib/role.js';
import { replyBody } from '../lib/shape.js';
import { errorText, sleep } from '../lib/time.js';

/** The AppService the end-to-end commands name. */
export const benchAppService = { appServiceName: 'bench', packageFamilyName: 'Appia.Bench_8wekyb3d8bbwe' } as const;

/** Role: one SDK device per token, connected to `url`, answering the bench AppService. */
export async function appiaDevices(options: { url: string; tokens: readonly string[] }): Promise<RunningRole<{ connected: number }>> {
  const devices: DeviceConnection[] = [];
  try {
    const connected = await Promise.all(
      options.tokens.map((token) =>
        connect({
          url: options.url,
          token,
          appServices: { [benchAppService.appServiceName]: async () => replyBody.responsePayload },
          // A drop is a failure of the run, not something to hide behind a reconnect.
          reconnect: false,
        }),
      ),
    );
    devices.push(...connected);
  } catch (error) {
    await Promise.all(devices.map((d) => d.close()));
    throw error;
  }
  return {
    info: { connected: devices.length },
    stop: async () => {
      await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
    },
  };
}

export interface IdleDevicesOptions {
  /** ws://host:port/devices/connect */
  readonly url: string;
  readonly tokens: readonly string[];
  /** the source address the sockets bind to (127.0.0.x), so each worker has its own ephemeral ports */
  readonly localAddress: string;
  /** handshakes in flight at once (the server's accept backlog is finite) */
  readonly concurrency: number;
  /** also report each command `completed` right after `received` (the batch scenario counts acked completions) */
  readonly complete?: boolean;
}

/** What the control port answers. Times are wall-clock milliseconds (performance.timeOrigin + now()). */
export interface IdleStats {
  readonly connected: number;
  readonly failed: number;
  readonly closed: number;
  readonly received: number;
  /** `completed` reports the server acked (stored) */
  readonly completed: number;
  readonly firstError?: string;
  readonly connectStartedAt?: number;
  readonly connectFinishedAt?: number;
  readonly firstReceivedAt?: number;
  readonly lastReceivedAt?: number;
  readonly lastCompletedAt?: number;
}

/** the source ports the idle devices bind to, on their own 127.0.0.x */
const firstPort = 10_000;
const lastPort = 65_000;

/** wall-clock milliseconds, as IdleStats' times */
export const wallClock = (): number => performance.timeOrigin + performance.now();

/**
 * Role: idle raw-ws devices. Nothing connects until the control port's
 * `POST /connect` (answered once every device is connected or has failed);
 * `GET /received?expect=K` answers once K commands were received (or after
 * `timeoutMs`), `GET /completed?expect=K` once K completions were acked
 * (with `complete`), `GET /stats` at once.
 */
export async function appiaIdleDevices(options: IdleDevicesOptions): Promise<RunningRole<{ controlPort: number }>> {
  const sockets: WebSocket[] = [];
  const refPrefix = randomBytes(6).toString('hex');
  let refCounter = 0;
  let connected = 0;
  let failed = 0;
  let closed = 0;
  let received = 0;
  let firstError: string | undefined;
  let connectStartedAt: number | undefined;
  let connectFinishedAt: number | undefined;
  let firstReceivedAt: number | undefined;
  let lastReceivedAt: number | undefined;
  let completed = 0;
  let lastCompletedAt: number | undefined;
  const completionRefs = new Set<string>();
  let stopping = false;
  const receivedWaiters: Array<{ expect: number; done: () => void }> = [];
  const completedWaiters: Array<{ expect: number; done: () => void }> = [];

  const stats = (): IdleStats => ({
    connected,
    failed,
    closed,
    received,
    completed,
    ...(firstError === undefined ? {} : { firstError }),
    ...(connectStartedAt === undefined ? {} : { connectStartedAt }),
    ...(connectFinishedAt === undefined ? {} : { connectFinishedAt }),
    ...(firstReceivedAt === undefined ? {} : { firstReceivedAt }),
    ...(lastReceivedAt === undefined ? {} : { lastReceivedAt }),
    ...(lastCompletedAt === undefined ? {} : { lastCompletedAt }),
  });

  const onFrame = (ws: WebSocket, data: WebSocket.RawData): void => {
    const text = data.toString();
    if (options.complete && text.startsWith('{"t":"ack"')) {
      const { ref } = JSON.parse(text) as { ref: string };
      if (!completionRefs.delete(ref)) return;
      completed++;
      lastCompletedAt = wallClock();
      for (let i = completedWaiters.length - 1; i >= 0; i--) {
        if (completed >= completedWaiters[i]!.expect) completedWaiters.splice(i, 1)[0]!.done();
      }
      return;
    }
    // Only command frames need an answer; acks (and nacks, which the benchmark does not expect) pass.
    if (!text.startsWith('{"t":"command"')) return;
    const frame = JSON.parse(text) as { t: string; command: { id: string } };
    ws.send(JSON.stringify({ t: 'received', ref: `${refPrefix}-${++refCounter}`, id: frame.command.id }));
    if (options.complete) {
      const ref = `${refPrefix}-${++refCounter}`;
      completionRefs.add(ref);
      ws.send(JSON.stringify({ t: 'completed', ref, id: frame.command.id, responsePayload: {} }));
    }
    received++;
    lastReceivedAt = wallClock();
    firstReceivedAt ??= lastReceivedAt;
    for (let i = receivedWaiters.length - 1; i >= 0; i--) {
      if (received >= receivedWaiters[i]!.expect) receivedWaiters.splice(i, 1)[0]!.done();
    }
  };

  // Explicit source ports: bind(addr, 0) makes the kernel search for a free
  // ephemeral port, which gets slower with every port taken (at 10,000
  // sockets it was most of this process's CPU). On our own 127.0.0.x only
  // ports a wildcard listener holds are taken: those fail and the next is tried.
  let nextPort = firstPort + Math.floor(Math.random() * (lastPort - firstPort));
  const takePort = (): number => {
    const port = nextPort;
    nextPort = nextPort >= lastPort ? firstPort : nextPort + 1;
    return port;
  };
  const dialOnce = (token: string): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(options.url, {
        headers: { authorization: `Bearer ${token}` },
        localAddress: options.localAddress,
        localPort: takePort(),
        perMessageDeflate: false,
        handshakeTimeout: 30_000,
      } as WebSocket.ClientOptions);
      const onError = (error: Error): void => reject(error);
      ws.once('error', onError);
      ws.once('unexpected-response', (_request, response) => {
        reject(new Error(`HTTP ${response.statusCode} at the upgrade`));
        ws.terminate();
      });
      ws.once('open', () => {
        ws.off('error', onError);
        ws.on('error', () => undefined);
        ws.on('message', (data) => onFrame(ws, data));
        ws.on('close', () => void (stopping || closed++));
        resolve(ws);
      });
    });

  const dial = async (token: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        sockets.push(await dialOnce(token));
        connected++;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 1000) continue; // a port a listener holds
        if (attempt >= 3 || stopping) {
          failed++;
          firstError ??= errorText(error);
          return;
        }
        await sleep(100 * attempt);
      }
    }
  };

  const connectAll = async (): Promise<void> => {
    connectStartedAt = wallClock();
    let next = 0;
    const lanes = Array.from({ length: Math.min(options.concurrency, options.tokens.length) }, async () => {
      while (next < options.tokens.length && !stopping) await dial(options.tokens[next++]!);
    });
    await Promise.all(lanes);
    connectFinishedAt = wallClock();
  };

  let connecting: Promise<void> | undefined;
  const control = createServer((request: IncomingMessage, response: ServerResponse) => {
    const answer = (body: unknown): void => void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = new URL(request.url ?? '/', 'http://control');
    if (request.method === 'POST' && url.pathname === '/connect') {
      connecting ??= connectAll();
      void connecting.then(() => answer(stats()));
    } else if (url.pathname === '/received' || url.pathname === '/completed') {
      // answers once `expect` commands were received (or their completion acked), or after timeoutMs
      const expect = Number(url.searchParams.get('expect') ?? '0');
      const timeoutMs = Number(url.searchParams.get('timeoutMs') ?? '60000');
      const [count, waiters] = url.pathname === '/received' ? [received, receivedWaiters] : [completed, completedWaiters];
      if (count >= expect) return answer(stats());
      const timer = setTimeout(() => finish(), timeoutMs);
      const waiter = { expect, done: () => finish() };
      const finish = (): void => {
        clearTimeout(timer);
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        answer(stats());
      };
      waiters.push(waiter);
    } else {
      answer(stats());
    }
  });
  control.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.listen(0, loopback, () => resolve());
  });

  return {
    info: { controlPort: (control.address() as AddressInfo).port },
    stop: async () => {
      stopping = true;
      for (const ws of sockets) ws.terminate();
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    },
  };
}

/** The parent's side of an `appia-idle-devices` worker's control port. */
export async function idleControl(controlPort: number, path: string, method: 'GET' | 'POST' = 'GET'): Promise<IdleStats> {
  const response = await fetch(`http://${loopback}:${controlPort}${path}`, { method, signal: AbortSignal.timeout(10 * 60_000) });
  if (!response.ok) throw new Error(`idle devices control ${path}: HTTP ${response.status}`);
  return (await response.json()) as IdleStats;
}
