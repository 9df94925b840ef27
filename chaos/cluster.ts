import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { OwnNatsServer } from '../test/bus/own-nats-server.js';
import { AppiaNode, sleep } from './node.js';
import { ChaosProxy } from './proxy.js';
import { NODE_FLAGS, type World } from './world.js';

const PG_ADMIN = process.env['APPIA_TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Two nodes on one PostgreSQL database of this run's own (made here, dropped
 * at the end) reached through a TCP relay the harness can cut, and on a
 * nats-server of the run's own (JetStream, its own store folder) that it can
 * kill and restart. The machine's shared PostgreSQL and NATS are never
 * stopped.
 */
export async function startCluster(dir: string, run: string): Promise<World> {
  const database = `appia_chaos_${run}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN, application_name: 'appia_chaos_admin' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const target = new URL(PG_ADMIN);
  const pgProxy = await ChaosProxy.start(() => Number(target.port) || 5432);
  const nats = await OwnNatsServer.start(['-js', '-sd', await mkdtemp(join(dir, 'nats-'))]);
  const dbUrl = new URL(PG_ADMIN);
  dbUrl.hostname = '127.0.0.1';
  dbUrl.port = String(pgProxy.port);
  dbUrl.pathname = `/${database}`;
  const dataDir = join(dir, 'cluster-data');
  const flags = [...NODE_FLAGS, '--database-url', dbUrl.toString(), '--nats-url', nats.url];
  const a = await AppiaNode.start('node-a', dataDir, flags, join(dir, 'node-a.log'));
  const b = await AppiaNode.start('node-b', dataDir, flags, join(dir, 'node-b.log'));
  const nodes = [a, b];
  return {
    name: 'cluster',
    dataDir,
    nodes,
    faults: [
      {
        kind: 'cluster node SIGKILLed and restarted',
        kill: true,
        run: async () => {
          const node = nodes[Math.floor(Math.random() * nodes.length)]!;
          await node.kill();
          await sleep(500 + Math.random() * 2000);
          await node.restart();
        },
      },
      {
        kind: 'PostgreSQL connections cut',
        kill: false,
        run: async () => {
          await pgProxy.pause();
          await sleep(1000 + Math.random() * 3000);
          await pgProxy.resume();
        },
      },
      {
        kind: 'NATS server killed and restarted',
        kill: true,
        run: async () => {
          await nats.stop();
          await sleep(500 + Math.random() * 2000);
          await nats.restart();
        },
      },
    ],
    async close() {
      await Promise.all(nodes.map((n) => n.stop()));
      await nats.stop();
      await pgProxy.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
}
