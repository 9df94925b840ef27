import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyServerOptions } from 'fastify';
import pinoPretty from 'pino-pretty';
import type { Bus } from './bus/bus.js';
import { InProcessBus } from './bus/in-process.js';
import { openNatsBus } from './bus/nats.js';
import type { Config } from './config.js';
import { openAuth } from './auth/setup.js';
import { buildApp, type App } from './http/app.js';
import { CommandCore } from './core/core.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import { startScheduler, type Scheduler } from './scheduler/scheduler.js';
import { openPostgresStore } from './store/postgres/store.js';
import { parsePostbackAllow } from './postback/allow-list.js';
import { startPostbackDispatcher, type DispatcherOptions, type PostbackDispatcher } from './postback/dispatcher.js';
import { openSqliteStore } from './store/sqlite/store.js';
import type { Store } from './store/store.js';
import type { CoreLog } from './core/context.js';
import type { LogDestination } from './http/observability.js';
import { AppiaMetrics } from './metrics/metrics.js';

/** A running Appia node: what main.ts and the end-to-end tests hold. */
export interface RunningAppia {
  /** http(s)://host:port */
  readonly url: string;
  readonly port: number;
  readonly app: App;
  readonly core: CommandCore;
  /** the store and bus this node runs on (tests inspect them; nothing else in the server reaches them but the core) */
  readonly store: Store;
  readonly bus: Bus;
  readonly gateway: Gateway;
  readonly scheduler: Scheduler;
  /** this node's postback loop (DESIGN 6): stats() for /metrics */
  readonly postbacks: PostbackDispatcher;
  /** mints user tokens from the embedded issuer (undefined with an external issuer) */
  readonly mintToken?: (user: string, options?: { scopes?: readonly string[]; appOnly?: boolean; ttlSeconds?: number }) => Promise<string>;
  /** this node's Prometheus metrics (GET /metrics) */
  readonly metrics: AppiaMetrics;
  /** stops listening, closes device connections, flushes and closes the store; `reason` (e.g. the signal) is logged */
  close(reason?: string): Promise<void>;
}

/** Seams a test may replace; everything else comes from the config. */
export interface StartOverrides {
  readonly store?: Store;
  readonly bus?: Bus;
  readonly now?: () => number;
  /** where log lines go instead of stdout (tests capture them) */
  readonly logDestination?: LogDestination;
  /** the postback dispatcher's settings and seams (its clock, randomness, sender, DNS) */
  readonly postbacks?: DispatcherOptions;
}

/**
 * Wires the parts together and listens (DESIGN 1, 7). The one place that
 * knows which adapters are in use.
 */
export async function startAppia(config: Config, overrides: StartOverrides = {}): Promise<RunningAppia> {
  // DESIGN 6: a wrong APPIA_POSTBACK_ALLOW entry stops the start (ConfigError naming it) before anything opens
  const postbackAllow = parsePostbackAllow(config.postbackAllow);
  const lookup = overrides.postbacks?.lookup;
  const postbackTargets = { allow: postbackAllow, ...(lookup ? { lookup } : {}) };
  // DESIGN 8: the data folder is its owner's only (the store and the issuer tighten what they keep in it)
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // auth first: an issuer that cannot be discovered stops the start before anything is opened
  const auth = await openAuth(config);
  const store = overrides.store ?? (await openStore(config));
  // DESIGN 7: a node told to use NATS never runs without it (openNatsBus fails in one line)
  let bus: Bus;
  try {
    bus = overrides.bus ?? (config.natsUrl ? await openNatsBus({ url: config.natsUrl, name: `appia ${hostname()}` }) : new InProcessBus());
  } catch (err) {
    if (!overrides.store) await store.close();
    throw err;
  }
  const issuer = auth.embedded;
  const mintToken: RunningAppia['mintToken'] = auth.mint ? (user, options = {}) => auth.mint!({ user, ...options }) : undefined;

  const https = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  let log: CoreLog = { warn: () => {}, info: () => {} };
  // DESIGN 7: one registry per node, so two nodes in one process never share counters
  const metrics = new AppiaMetrics();
  const core = new CommandCore({
    observer: metrics.observer,
    store,
    bus,
    timings: config,
    log: { warn: (details, message) => log.warn(details, message), info: (details, message) => log.info(details, message) },
    ...(overrides.now ? { now: overrides.now } : {}),
  });
  const app = buildApp(
    {
      core,
      auth: { authenticate: (header) => auth.verifier.verify(header) },
      metrics,
      postbackTargets,
      ...logDestination(config, overrides),
      ...(issuer ? { wellKnown: issuer } : {}),
    },
    { ...config, logLevel: config.logLevel },
    (https ? { https } : {}) as FastifyServerOptions,
  );
  log = app.log;

  const gateway = createGateway({ core, config, log: app.log, ...(overrides.now ? { now: overrides.now } : {}) });
  app.server.on('upgrade', (request, socket, head) => gateway.handleUpgrade(request, socket, head));
  const scheduler = startScheduler({ timers: core.timers, receiptTimeoutMs: config.receiptTimeoutMs, log: app.log });
  const postbacks = startPostbackDispatcher({ core, allow: postbackAllow, log: app.log, ...(overrides.postbacks ? { options: overrides.postbacks } : {}) });
  metrics.readFrom({
    connectedDevices: () => gateway.connectedDevices,
    postbackDepth: () => core.postbackDepth(),
    postbackFailures: async () => (await postbacks.stats()).failures,
  });

  await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as AddressInfo).port;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `${https ? 'https' : 'http'}://${hostForUrl}:${port}`;

  return {
    url,
    port,
    app,
    core,
    store,
    bus,
    ...(mintToken ? { mintToken } : {}),
    gateway,
    scheduler,
    metrics,
    postbacks,
    async close(reason) {
      app.log.info(reason ? { reason } : {}, 'shutting down');
      await scheduler.close();
      await postbacks.close();
      await gateway.close();
      await app.close();
      await bus.close();
      await store.close();
      app.log.info('closed');
    },
  };
}

/** DESIGN 7: JSON lines by default; `--log-format pretty` for people (pino-pretty, written synchronously so no line is lost at exit) */
function logDestination(config: Config, overrides: StartOverrides): { logDestination?: LogDestination } {
  if (overrides.logDestination) return { logDestination: overrides.logDestination };
  if (config.logFormat === 'pretty') {
    // a request reads `INFO: request GET /healthz 200 1.2 ms`, its other fields below it
    const messageFormat = '{msg}{if method} {method} {path} {status} {durationMs} ms{end}';
    return { logDestination: pinoPretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,method,path,status,durationMs', messageFormat }) };
  }
  return {};
}

async function openStore(config: Config): Promise<Store> {
  // DESIGN 7: told to use PostgreSQL, a node never runs without it (openPostgresStore fails in one line)
  if (config.databaseUrl) return openPostgresStore({ url: config.databaseUrl, applicationName: `appia ${hostname()}` });
  return openSqliteStore({ path: join(config.dataDir, 'appia.db'), synchronous: config.sqliteSynchronous, writer: config.sqliteWriter });
}
