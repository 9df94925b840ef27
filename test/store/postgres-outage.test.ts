import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { AppiaError } from '../../src/domain/errors.js';
import type { Status } from '../../src/domain/status.js';
import { World } from '../contract/store.contract.js';
import { GUARD, postgresFixture, until } from './postgres-fixture.js';
import { TcpProxy } from './tcp-proxy.js';

const pg = await postgresFixture('outage');

/** an AppiaError `unavailable` in our words, with Retry-After, the driver's error kept only as its cause */
function unavailable(err: unknown): boolean {
  assert.ok(err instanceof AppiaError, `not an AppiaError: ${String(err)}`);
  assert.equal(err.code, 'unavailable');
  assert.equal(err.message, 'the database is unreachable');
  assert.equal(err.retryAfter, 1);
  assert.ok(err.cause instanceof Error);
  return true;
}

/** a loopback port where nothing listens (it was just free) */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function backends(applicationName: string): Promise<number> {
  return pg
    .sql<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
    .then((rows) => rows[0]!.n);
}

describe('PostgreSQL store outages', { skip: pg.skip }, () => {
  after(() => pg.cleanup());

  test('when the database cannot be reached at start, opening fails in one line naming the URL without its password', async () => {
    const port = await closedPort();
    await assert.rejects(pg.open({ url: `postgres://appia:s3cret-pw@127.0.0.1:${port}/test` }), (err: Error) => {
      assert.equal(
        err.message,
        `PostgreSQL at postgres://appia@127.0.0.1:${port}/test cannot be used: nothing accepts connections there (connection refused)`,
      );
      return true;
    });
  });

  test('a database that does not exist is named as the problem', async () => {
    const url = new URL(pg.url);
    url.pathname = '/appia_no_such_database';
    await assert.rejects(pg.open({ url: url.toString() }), /cannot be used: the database does not exist/);
  });

  test('when the database goes away, every call fails unavailable; when it is back, the store works again on its own', GUARD, async () => {
    const target = new URL(pg.url);
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) || 5432 });
    const idleErrors: Error[] = [];
    const store = await pg.open({ url: proxy.url(pg.url), poolSize: 2, onIdleError: (err) => idleErrors.push(err) });
    try {
      const w = new World(store);
      const user = w.user();
      const device = await w.device(user);
      const { command } = await w.command(device);
      await Promise.all([store.ping(), store.ping()]);

      // both pooled connections break while idle: reported, not thrown (an unhandled 'error' would end this process)
      await proxy.cut();
      await until(async () => idleErrors.length === 2);
      const calls: [string, () => Promise<unknown>][] = [
        ['ping', () => store.ping()],
        ['getDevice', () => store.getDevice(user, device.id)],
        ['createCommand', () => w.command(device)],
        ['transitionChain', () => store.transitionChain([{ commandId: command.id, from: 'requesting', to: 'sentToTarget', at: w.tick() }])],
        ['claimTimer', () => store.claimTimer(command.id, 'requesting', 1, null)],
        ['listUserHistorySince', () => store.listUserHistorySince(user, 0, 10)],
        ['connectDevice', () => store.connectDevice(device.id, 'connection-1', w.tick())],
        ['claimPostbacks', () => store.claimPostbacks(w.tick(), 10, 30_000)],
      ];
      for (const [name, call] of calls) await assert.rejects(call(), unavailable, name);

      await proxy.resume();
      await store.ping();
      assert.equal((await w.command(device)).created, true);
      const moved = await w.move(command, 'sentToTarget');
      assert.equal((await store.getCommandById(command.id))?.status, 'sentToTarget');
      assert.deepEqual((await store.listHistory(command.id)).map((h) => h.status), ['requesting', 'sentToTarget']);
      assert.equal(moved.history.sequence, 2);
    } finally {
      await proxy.close();
      await store.close();
    }
  });

  test("when the server ends the store's idle connections before the store notices, the next calls of every kind still succeed", GUARD, async () => {
    const app = pg.applicationName('terminated');
    const store = await pg.open({ applicationName: app, poolSize: 3 });
    /** three idle pooled connections, then all ended by the server while this thread is held still */
    const endConnectionsUnnoticed = async () => {
      await Promise.all([store.ping(), store.ping(), store.ping()]);
      assert.equal(await backends(app), 3);
      const signal = new SharedArrayBuffer(4);
      const worker = new Worker(new URL('./terminate-worker.js', import.meta.url), {
        workerData: { url: pg.url, applicationName: app, signal },
      });
      // blocks this thread (its event loop too) until the worker is done; the bound only guards against a hang
      Atomics.wait(new Int32Array(signal), 0, 0, 30_000);
      assert.equal(Atomics.load(new Int32Array(signal), 0), 1, 'the worker ended the connections');
      return worker;
    };
    try {
      const w = new World(store);
      const user = w.user();
      const device = await w.device(user);
      const { command } = await w.command(device);

      let worker = await endConnectionsUnnoticed();
      assert.equal((await store.getDevice(user, device.id))?.id, device.id);
      await worker.terminate();
      worker = await endConnectionsUnnoticed();
      assert.equal((await w.command(device)).created, true);
      await worker.terminate();
      worker = await endConnectionsUnnoticed();
      assert.equal((await store.listUserHistorySince(user, 0, 10)).length, 2);
      await worker.terminate();

      // a single write's BEGIN fails on the dead connection, which proves the write never ran: it is tried again
      worker = await endConnectionsUnnoticed();
      const moved = await w.transition({ commandId: command.id, from: 'requesting', to: 'sentToTarget', at: w.tick(), dueAt: 5 });
      assert.equal(moved?.command.status, 'sentToTarget');
      await worker.terminate();
      worker = await endConnectionsUnnoticed();
      assert.equal(await store.claimTimer(command.id, 'sentToTarget', 5, null), true);
      await worker.terminate();
      assert.deepEqual((await store.listHistory(command.id)).map((h) => h.status), ['requesting', 'sentToTarget']);
    } finally {
      await store.close();
    }
  });

  test("the database's own words never reach the message: a refused write is `internal`, a duplicate is `conflict`", async () => {
    const store = await pg.open();
    try {
      const w = new World(store);
      const device = await w.device(w.user());
      const { command } = await w.command(device);
      await assert.rejects(
        w.transition({ commandId: command.id, from: 'requesting', to: 'noSuchStatus' as Status, at: w.tick() }),
        (err: unknown) => {
          assert.ok(err instanceof AppiaError);
          assert.equal(err.code, 'internal');
          assert.equal(err.message, 'the database refused the operation');
          assert.equal((err.cause as { code?: string }).code, '23514');
          return true;
        },
      );
      await assert.rejects(w.device(w.user(), { tokenHash: w.tokenHashOf(device) }), (err: unknown) => {
        assert.ok(err instanceof AppiaError);
        assert.equal(err.code, 'conflict');
        assert.equal(err.message, 'already stored');
        return true;
      });
      assert.equal((await store.getCommandById(command.id))?.status, 'requesting');
    } finally {
      await store.close();
    }
  });

  test('closing the store ends its pooled connections', GUARD, async () => {
    const app = pg.applicationName('closing');
    const store = await pg.open({ applicationName: app, poolSize: 2 });
    await Promise.all([store.ping(), store.ping()]);
    assert.equal(await backends(app), 2);
    await store.close();
    await until(async () => (await backends(app)) === 0);
    await assert.rejects(store.ping(), (err: unknown) => err instanceof AppiaError && err.code === 'unavailable');
  });
});
