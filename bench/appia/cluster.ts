// Appia as a cluster runs it (DESIGN 1, 7): `appia serve` on PostgreSQL and
// NATS instead of SQLite and the in-process bus, with the appia-e2e load
// (100 SDK devices, 200 outstanding creates with `Prefer: wait=60`, then
// paced 500/s). Two scenarios:
//
// - `appia-cluster`: one node on PG + NATS: what the store and bus cost
//   against appia-e2e's SQLite node.
// - `appia-cluster-2`: two nodes; the devices are connected to node A and
//   every request goes to node B, so each command crosses NATS both ways
//   (B publishes the delivery, A the status changes B's wait holds for).
//
// Both are divided by the baselines and by appia-e2e when those ran earlier
// in the same run. PostgreSQL (127.0.0.1:5432, database `test`'s server,
// APPIA_BENCH_DATABASE_URL for another) gets a fresh database per scenario,
// dropped afterwards; NATS is the machine's at 127.0.0.1:4222
// (APPIA_BENCH_NATS_URL). Either missing: the scenario is skipped.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { findProcesses } from '../lib/cpu.js';
import { isPortOpen } from '../lib/ports.js';
import { measureRequestReply } from '../lib/request-reply.js';
import type { Figure, Scenario, ScenarioContext, ScenarioOutcome } from '../lib/scenario.js';
import { shape } from '../lib/shape.js';
import { type AppiaServer, processSeconds, startAppiaServer } from './server.js';
import { waitedCreates } from './waited-creates.js';

const postgresUrl = process.env['APPIA_BENCH_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env['APPIA_BENCH_NATS_URL'] || 'nats://127.0.0.1:4222';

export const clusterOneNode: Scenario = {
  name: 'appia-cluster',
  title: 'Appia end to end, one node on PostgreSQL + NATS (Prefer: wait)',
  kind: 'appia',
  comparedWith: ['appia-e2e'],
  run: (context) => runCluster(context, 1),
};

export const clusterTwoNodes: Scenario = {
  name: 'appia-cluster-2',
  title: 'Appia end to end, two nodes on PostgreSQL + NATS: devices on A, requests on B',
  kind: 'appia',
  comparedWith: ['appia-e2e', 'appia-cluster'],
  run: (context) => runCluster(context, 2),
};

async function runCluster(context: ScenarioContext, nodes: 1 | 2): Promise<ScenarioOutcome> {
  const missing = await missingService();
  if (missing) return { skipped: missing };
  const load = loadavg();
  context.progress('creating a fresh PostgreSQL database');
  const db = await FreshDatabase.create();
  try {
    const dataDir = context.processes.tempDir('appia-cluster');
    const args = ['--database-url', db.url, '--nats-url', natsUrl];
    context.progress(`starting ${nodes} Appia node(s) on PostgreSQL + NATS`);
    // the first node makes the issuer's key in the shared data folder; a second reads it
    const a = await startAppiaServer(context, { dataDir, args, name: 'appia-node-a' });
    const b = nodes === 2 ? await startAppiaServer(context, { dataDir, args, name: 'appia-node-b' }) : a;
    return await measure(context, db, a, b, nodes, load);
  } finally {
    await db.drop();
  }
}

async function measure(context: ScenarioContext, db: FreshDatabase, a: AppiaServer, b: AppiaServer, nodes: number, load: number[]): Promise<ScenarioOutcome> {
  context.progress(`registering and connecting ${shape.responders} SDK devices to node A`);
  const creates = await waitedCreates(context, { devicesOn: a, requestsTo: b });
  try {
    const prewarmMs = 2 * context.timing.warmupMs;
    context.progress(`warming the node(s) up, ${prewarmMs / 1000} s`);
    await creates.prewarm(prewarmMs);

    const backends = await db.backends();
    const nodeList = nodes === 2 ? [a, b] : [a];
    const cpu = () => ({
      nodes: nodeList.map((n) => processSeconds(n.pid) ?? NaN),
      postgres: backends.reduce((sum, p) => sum + (processSeconds(p.pid) ?? 0), 0),
      devices: processSeconds(creates.deviceWorker.pid) ?? NaN,
      requesters: ((u) => (u.user + u.system) / 1e6)(process.cpuUsage()),
    });
    const before = cpu();
    const completedBefore = creates.completed();
    const startedAt = performance.now();
    const { figures, notes } = await measureRequestReply(context, creates.send, { watch: findProcesses('nats-server') });
    const after = cpu();
    const postgresCores = (after.postgres - before.postgres) / ((performance.now() - startedAt) / 1000);
    const commands = creates.completed() - completedBefore;
    const perCommand = (key: string, label: string, seconds: number): Figure => ({ key, label, value: (seconds * 1e6) / commands, unit: 'µs', better: 'lower' });
    const nodeSeconds = after.nodes.map((s, i) => s - before.nodes[i]!);
    const cpuPerCommand = [
      perCommand('appia.serverCpuPerCommandUs', nodes === 2 ? 'server CPU per command (both nodes)' : 'server CPU per command', nodeSeconds.reduce((x, y) => x + y, 0)),
      ...(nodes === 2
        ? [
            perCommand('appia.cluster.nodeACpuPerCommandUs', 'node A (devices) CPU per command', nodeSeconds[0]!),
            perCommand('appia.cluster.nodeBCpuPerCommandUs', 'node B (requests) CPU per command', nodeSeconds[1]!),
          ]
        : []),
      perCommand('appia.cluster.postgresCpuPerCommandUs', 'PostgreSQL backends CPU per command', after.postgres - before.postgres),
      perCommand('appia.devicesCpuPerCommandUs', 'devices CPU per command', after.devices - before.devices),
      perCommand('appia.requestersCpuPerCommandUs', 'requesters CPU per command', after.requesters - before.requesters),
    ];
    return {
      figures: [...figures, ...cpuPerCommand],
      notes: [
        (nodes === 2 ? `devices on node A, every request on node B (each command crosses NATS); ` : 'one node; ') +
          `PostgreSQL ${db.serverVersion} (a fresh database, ${backends.length} backends of the node pools), NATS ${natsUrl}; ` +
          `server CPU per command over the closed loop and paced runs together; PostgreSQL's CPU is its backends' for this database`,
        ...notes,
        `PostgreSQL's ${backends.length} backends used ${postgresCores.toFixed(2)} cores over both runs`,
        `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
      ],
    };
  } finally {
    // devices first, so the nodes' shutdown is not spent on reconnects
    await creates.close();
    for (const node of new Set([b, a])) await node.process.stop();
  }
}

async function missingService(): Promise<string | undefined> {
  const pgTarget = new URL(postgresUrl);
  if (!(await isPortOpen(Number(pgTarget.port) || 5432, pgTarget.hostname))) {
    return `PostgreSQL is unreachable at ${pgTarget.hostname}:${pgTarget.port || 5432} (set APPIA_BENCH_DATABASE_URL to use another)`;
  }
  const natsTarget = new URL(natsUrl);
  if (!(await isPortOpen(Number(natsTarget.port) || 4222, natsTarget.hostname))) {
    return `NATS is unreachable at ${natsTarget.hostname}:${natsTarget.port || 4222} (set APPIA_BENCH_NATS_URL to use another)`;
  }
  return undefined;
}

/** A database of the scenario's own on the PostgreSQL server, dropped (with its connections) afterwards. */
class FreshDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly serverVersion: string,
  ) {}

  static async create(): Promise<FreshDatabase> {
    const name = `appia_bench_cluster_${randomBytes(4).toString('hex')}`;
    const version = await admin(async (c) => {
      await c.query(`CREATE DATABASE ${name}`);
      return (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
    });
    const url = new URL(postgresUrl);
    url.pathname = `/${name}`;
    return new FreshDatabase(name, url.toString(), version);
  }

  /** the server processes serving this database's connections (the nodes' pools) */
  backends(): Promise<{ name: string; pid: number }[]> {
    return admin(async (c) =>
      (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [this.name])).rows.map((r) => ({ name: 'postgres', pid: r.pid })),
    );
  }

  drop(): Promise<void> {
    return admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`)));
  }
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl, application_name: 'appia bench' });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
