import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { service } from '../support/services.js';
import { spawnServer } from '../support/spawn.js';
import { TcpRelay } from '../support/tcp-relay.js';

/**
 * What the cluster stories share (DESIGN 1, 7): real `appia serve`
 * processes on one PostgreSQL database made fresh for the run (dropped at
 * the end) and one NATS, the data folder (the embedded issuer's key) shared
 * between them as docs/cluster.md tells operators to.
 */

/** A database of the run's own on the test PostgreSQL server. */
export interface ClusterDatabase {
  readonly url: string;
  /** a statement on an admin connection to that database */
  sql<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

export async function clusterDatabase(label: string): Promise<ClusterDatabase> {
  const found = await service('postgres');
  const name = `appia_cluster_${label}_${randomBytes(4).toString('hex')}`;
  const server = new pg.Client({ connectionString: found.url, application_name: 'appia_test_cluster_admin' });
  await server.connect();
  try {
    await server.query(`CREATE DATABASE ${name}`);
  } finally {
    await server.end();
  }
  const url = new URL(found.url);
  url.pathname = `/${name}`;
  // One client, not a pool: pool.end() resolves before its sockets have closed, and the
  // DROP ... WITH (FORCE) below would then end a connection still open (an uncaught error here).
  let client: Promise<pg.Client> | undefined;
  const connected = () =>
    (client ??= (async () => {
      const c = new pg.Client({ connectionString: url.toString(), application_name: 'appia_test_cluster_admin' });
      await c.connect();
      return c;
    })());
  return {
    url: url.toString(),
    async sql<R>(text: string, values: unknown[] = []) {
      return (await (await connected()).query(text, values)).rows as R[];
    },
    async drop() {
      // Client.end() resolves once the connection has closed
      if (client) await (await client).end();
      const admin = new pg.Client({ connectionString: found.url, application_name: 'appia_test_cluster_admin' });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** One `appia serve` process of the cluster. */
export class ClusterNode {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly child: ChildProcess,
  ) {}

  static async start(name: string, dataDir: string, flags: string[]): Promise<ClusterNode> {
    const { url, child } = await spawnServer(dataDir, flags);
    return new ClusterNode(name, url, child);
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL: no shutdown at all, as a machine that dies */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** a graceful stop (SIGTERM), cut short by SIGKILL if it takes over 10 s */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const force = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  }
}

/** The data folder the nodes share and a user token minted from its issuer. */
export async function sharedData(): Promise<{ dir: string; token: (user: string) => Promise<string>; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'appia-cluster-'));
  return {
    dir,
    async token(user: string) {
      const issuer = await openEmbeddedIssuer({ dataDir: dir });
      return issuer.mint({ user });
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

/** One HTTP call to a node as the user; a refused connection rejects. */
export async function api(url: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function addDevice(url: string, token: string, name = 'cluster device'): Promise<{ id: string; deviceToken: string }> {
  const res = await api(url, token, 'POST', '/beta/me/devices', { name });
  if (res.status !== 201) throw new Error(`registering a device answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { id: res.body.id, deviceToken: res.body.deviceToken };
}

export const commandsOf = (deviceId: string) => `/beta/me/devices/${deviceId}/commands`;

export async function historyOf(url: string, token: string, deviceId: string, commandId: string): Promise<string[]> {
  const res = await api(url, token, 'GET', `${commandsOf(deviceId)}/${commandId}/history`);
  return res.body.value.map((h: { status: string }) => h.status);
}

/** A Server-Sent Events stream read to its end (or until `close`). */
export class EventStream {
  readonly events: { id: string; event: string; data: any }[] = [];
  readonly ended: Promise<void>;
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();

  private constructor(response: Response) {
    const parser = createParser({
      onEvent: (e) => {
        this.events.push({ id: e.id ?? '', event: e.event ?? 'message', data: JSON.parse(e.data) });
        for (const wake of [...this.#waiters]) wake();
      },
    });
    const decoder = new TextDecoder();
    this.ended = (async () => {
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        // aborted by close()
      }
      for (const wake of [...this.#waiters]) wake();
    })();
  }

  static async open(url: string, token: string, path: string, headers: Record<string, string> = {}): Promise<EventStream> {
    const abort = new AbortController();
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
    const stream = new EventStream(response);
    stream.#abort.signal.addEventListener('abort', () => abort.abort());
    return stream;
  }

  statuses(): string[] {
    return this.events.map((e) => e.data.status);
  }

  /** resolves once `check` holds for the events so far */
  async until(check: (stream: EventStream) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.statuses())}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(1, deadline - Date.now()));
        this.#waiters.add(wake);
      });
    }
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.ended;
  }
}

/** Polls `check` every 50 ms until it returns a value, failing after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A TCP balancer on 127.0.0.1 in front of the nodes, as an operator's load
 * balancer would be: each new connection goes to the first node in the list
 * that accepts it, so a device behind it reconnects to a surviving node when
 * its node dies. `close()` ends every relayed connection and stops listening.
 */
export class Balancer {
  readonly #relay: TcpRelay;

  private constructor(private readonly backends: readonly number[]) {
    this.#relay = new TcpRelay((client) => this.#firstAccepting(client, 0));
  }

  static async start(ports: readonly number[]): Promise<Balancer> {
    const balancer = new Balancer(ports);
    await balancer.#relay.listen();
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#relay.port}`;
  }

  close(): Promise<void> {
    return this.#relay.stop('close');
  }

  /** the upstream of the first node from `index` on that accepts a connection; none: the client is closed */
  async #firstAccepting(client: Socket, index: number): Promise<Socket | undefined> {
    if (!this.#relay.listening || index >= this.backends.length || client.destroyed) {
      client.destroy();
      return undefined;
    }
    const upstream = tcpConnect({ host: '127.0.0.1', port: this.backends[index]! });
    const accepted = await new Promise<boolean>((resolve) => {
      upstream.once('error', () => resolve(false));
      upstream.once('connect', () => resolve(true));
    });
    if (accepted) return upstream;
    upstream.destroy();
    return this.#firstAccepting(client, index + 1);
  }
}

/** What a stream of creates met: the ids answered 201, and every other answer or failure. */
export interface Creates {
  readonly accepted: string[];
  /** 503 answers, with their Retry-After */
  readonly unavailable: { at: number; retryAfter: string | null }[];
  /** connection failures (a killed node) and answers other than 201 and 503 */
  readonly failed: string[];
}

/**
 * Creates `total` commands for the device, `concurrency` at a time, each on
 * the next node `urls()` names (round robin), with a postback to `postBackUri`
 * when given. Resolves with what each create met.
 */
export async function createStream(options: {
  urls: () => readonly string[];
  token: string;
  deviceId: string;
  total: number;
  concurrency: number;
  postBackUri?: string;
  /** called after each 201, with how many so far */
  onAccepted?: (count: number) => void | Promise<void>;
  /** pause between one worker's creates */
  paceMs?: number;
  /** ends the stream early once it returns true */
  stop?: () => boolean;
  /** where the results go as they come (default: a new object) */
  into?: Creates;
}): Promise<Creates> {
  const result: Creates = options.into ?? { accepted: [], unavailable: [], failed: [] };
  let next = 0;
  const worker = async () => {
    while (next < options.total && !options.stop?.()) {
      const n = next++;
      const urls = options.urls();
      const url = urls[n % urls.length]!;
      const body = { type: 'LaunchUri', payload: { uri: `https://example.com/${n}` }, ...(options.postBackUri ? { postBackUri: options.postBackUri } : {}) };
      try {
        const res = await api(url, options.token, 'POST', commandsOf(options.deviceId), body);
        if (res.status === 201) {
          result.accepted.push(res.body.id);
          await options.onAccepted?.(result.accepted.length);
        } else if (res.status === 503) result.unavailable.push({ at: Date.now(), retryAfter: res.headers.get('retry-after') });
        else result.failed.push(`${res.status} ${JSON.stringify(res.body)}`);
      } catch (err) {
        result.failed.push(String((err as Error).cause ?? err));
      }
      if (options.paceMs) await new Promise((resolve) => setTimeout(resolve, options.paceMs));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return result;
}

/** Waits until every command is final on `url`, and returns their final statuses. */
export async function finalStatuses(url: string, token: string, deviceId: string, ids: readonly string[]): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  for (const id of ids) {
    const status = await eventually(async () => {
      const res = await api(url, token, 'GET', `${commandsOf(deviceId)}/${id}`, undefined, { prefer: 'wait=10' });
      return res.status === 200 && FINAL.has(res.body.status) ? (res.body.status as string) : undefined;
    }, `command ${id} to end`, 30_000);
    statuses.set(id, status);
  }
  return statuses;
}

const FINAL = new Set(['completed', 'executionFailed', 'commandDropped', 'failedToSend', 'canceled', 'expired', 'error']);

/**
 * `GET /beta/me/events` followed as a browser's EventSource would: when the
 * stream ends or cannot be opened (503 during an outage), it opens it again
 * after `retryMs` with `Last-Event-ID` set to the last event seen.
 */
export class FollowedEvents {
  readonly events: { id: string; data: any }[] = [];
  /** how many times the stream was opened */
  opened = 0;
  #current: EventStream | undefined;
  #stopped = false;
  readonly #loop: Promise<void>;

  private constructor(
    private readonly url: () => string,
    private readonly token: string,
    private readonly retryMs: number,
    first: EventStream,
  ) {
    this.#loop = this.#follow(first);
  }

  static async open(url: () => string, token: string, retryMs = 200): Promise<FollowedEvents> {
    const first = await EventStream.open(url(), token, '/beta/me/events');
    return new FollowedEvents(url, token, retryMs, first);
  }

  /** resolves once every command in `ids` has reached `completed` on the stream; the error says what is missing */
  async untilCompleted(ids: readonly string[], timeoutMs = 30_000): Promise<void> {
    const missing = () => ids.filter((id) => !this.of(id).includes('completed'));
    try {
      await eventually(async () => (missing().length === 0 ? true : undefined), 'every completion on the followed stream', timeoutMs);
    } catch (err) {
      const some = missing().slice(0, 3).map((id) => `${id}: ${JSON.stringify(this.of(id))}`);
      throw new Error(`${(err as Error).message}: ${missing().length} missing (${some.join('; ')}); opened ${this.opened} time(s), ${this.events.length} events, last id ${this.events.at(-1)?.id}`);
    }
  }

  /** the statuses seen for one command, in order */
  of(commandId: string): string[] {
    return this.events.filter((e) => e.data.commandId === commandId).map((e) => e.data.status);
  }

  async close(): Promise<void> {
    this.#stopped = true;
    await this.#current?.close();
    await this.#loop;
  }

  async #follow(first: EventStream): Promise<void> {
    let stream: EventStream | undefined = first;
    while (!this.#stopped) {
      if (stream) {
        this.opened++;
        this.#current = stream;
        let taken = 0;
        const take = () => {
          for (; taken < stream!.events.length; taken++) this.events.push(stream!.events[taken]!);
        };
        while (!this.#stopped) {
          const ended = await Promise.race([stream.ended.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 50))]);
          take();
          if (ended) break;
        }
        this.#current = undefined;
      }
      if (this.#stopped) return;
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
      const last = this.events.at(-1)?.id;
      stream = await EventStream.open(this.url(), this.token, '/beta/me/events', last ? { 'last-event-id': last } : {}).catch(() => undefined);
    }
  }
}

/**
 * Undo steps run last-in first-out, as `defer` would: what was opened last
 * (a device, a stream) is closed before what it depends on (the nodes, the
 * database). node:test runs `t.after` hooks first-in first-out, which would
 * stop the nodes while their devices still reconnect.
 */
export class Teardown {
  readonly #steps: (() => unknown)[] = [];

  defer(step: () => unknown): void {
    this.#steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** A story's nodes, on a database and a data folder of their own. */
export interface Nodes {
  readonly db: ClusterDatabase;
  readonly data: Awaited<ReturnType<typeof sharedData>>;
  readonly nodes: readonly ClusterNode[];
  /** a token of the story's user, from the shared issuer */
  readonly user: string;
}

/**
 * Starts `appia serve` nodes (named by `names`, default A and B, one after
 * the other unless `together`) on a fresh database and a shared data folder,
 * each undone by `teardown`.
 */
export async function startNodes(
  teardown: Teardown,
  options: {
    /** part of the database's name */
    label: string;
    natsUrl: string;
    /** flags beyond --database-url and --nats-url */
    flags?: readonly string[];
    /** the database URL the nodes are given (default the database's own; e.g. through a relay) */
    databaseUrl?: (db: ClusterDatabase) => string;
    names?: readonly string[];
    /** started at once, as an orchestrator would */
    together?: boolean;
    user?: string;
  },
): Promise<Nodes> {
  const db = await clusterDatabase(options.label);
  teardown.defer(() => db.drop());
  const data = await sharedData();
  teardown.defer(() => data.remove());
  const flags = ['--database-url', options.databaseUrl?.(db) ?? db.url, '--nats-url', options.natsUrl, ...(options.flags ?? [])];
  const start = async (name: string) => {
    const node = await ClusterNode.start(name, data.dir, flags);
    teardown.defer(() => node.stop());
    return node;
  };
  const names = options.names ?? ['a', 'b'];
  const nodes: ClusterNode[] = [];
  if (options.together) nodes.push(...(await Promise.all(names.map(start))));
  else for (const name of names) nodes.push(await start(name));
  return { db, data, nodes, user: await data.token(options.user ?? 'nora') };
}

/** Two nodes, a device counting its runs, and a client following the user's changes. */
export interface Cluster extends Nodes {
  readonly a: ClusterNode;
  readonly b: ClusterNode;
  readonly deviceId: string;
  readonly device: DeviceConnection;
  /** how many times each command ran on the device */
  readonly runs: Map<string, number>;
  readonly followed: FollowedEvents;
}

/**
 * What the outage stories share: nodes A and B (startNodes), a device
 * registered on B and connected to A, reconnecting quickly, and a client
 * following every change of the user's commands on B, resuming with
 * Last-Event-ID when its stream ends. With `balanced`, the device and the
 * follower go through a Balancer in front of A and B instead.
 */
export async function startCluster(
  teardown: Teardown,
  options: Parameters<typeof startNodes>[1] & {
    balanced?: boolean;
    /** what the device does with a command once its run is counted (default nothing: it completes without a payload) */
    handle?: () => Promise<object>;
  },
): Promise<Cluster> {
  const started = await startNodes(teardown, options);
  const [a, b] = started.nodes as [ClusterNode, ClusterNode];
  let front: { device: string; follow: string } = { device: a.url, follow: b.url };
  if (options.balanced) {
    const balancer = await Balancer.start([a.port, b.port]);
    teardown.defer(() => balancer.close());
    front = { device: balancer.url, follow: balancer.url };
  }
  const { id: deviceId, deviceToken } = await addDevice(b.url, started.user);
  const runs = new Map<string, number>();
  const device = await connect({
    url: front.device,
    token: deviceToken,
    reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
    handlers: {
      LaunchUri: async (command) => {
        runs.set(command.id, (runs.get(command.id) ?? 0) + 1);
        return options.handle?.();
      },
    },
  });
  // closed before the nodes stop, or it would go on reconnecting to nothing
  teardown.defer(() => device.close());
  const followed = await FollowedEvents.open(() => front.follow, started.user);
  teardown.defer(() => followed.close());
  return { ...started, a, b, deviceId, device, runs, followed };
}

/** What a node's /readyz answered. */
export interface Readiness {
  readonly status: number;
  readonly retryAfter: string | null;
}

export async function readiness(node: ClusterNode): Promise<Readiness> {
  const res = await fetch(`${node.url}/readyz`);
  await res.arrayBuffer();
  return { status: res.status, retryAfter: res.headers.get('retry-after') };
}

/**
 * Creates for the cluster's device, on B and A in turn, two at a time,
 * `paceMs` apart, with an outage in their midst: after the 20th 201, `down`;
 * once each node's /readyz says 503 on its own (`readyDuring` holds those
 * answers), `hold` and then `up`; once both say 200 again, the stream ends
 * after 20 more 201s. Resolves once the stream has ended and the outage is
 * over (`over`, false if the stream ended before the outage could begin).
 */
export async function createsAcrossOutage(
  cluster: Pick<Cluster, 'a' | 'b' | 'user' | 'deviceId'>,
  options: { paceMs: number; down: () => Promise<void>; hold: (creates: Creates) => Promise<void>; up: () => Promise<void> },
): Promise<{ creates: Creates; outage: { over: boolean; readyDuring: Readiness[] } }> {
  const { a, b } = cluster;
  const outage = { started: false, over: false, acceptedAfter: 0, readyDuring: [] as Readiness[] };
  let outageDone: Promise<void> = Promise.resolve();
  const creates: Creates = { accepted: [], unavailable: [], failed: [] };
  await createStream({
    into: creates,
    urls: () => [b.url, a.url],
    token: cluster.user,
    deviceId: cluster.deviceId,
    total: 2000,
    concurrency: 2,
    paceMs: options.paceMs,
    stop: () => outage.over && outage.acceptedAfter >= 20,
    onAccepted: (count) => {
      if (outage.over) outage.acceptedAfter++;
      if (count !== 20 || outage.started) return;
      outage.started = true;
      outageDone = (async () => {
        await options.down();
        for (const node of [a, b]) outage.readyDuring.push(await eventually(async () => ((r) => (r.status === 503 ? r : undefined))(await readiness(node)), `node ${node.name} unready`));
        await options.hold(creates);
        await options.up();
        for (const node of [a, b]) await eventually(async () => ((await readiness(node)).status === 200 ? true : undefined), `node ${node.name} ready again`);
        outage.over = true;
      })();
    },
  });
  await outageDone;
  return { creates, outage: { over: outage.over, readyDuring: outage.readyDuring } };
}
