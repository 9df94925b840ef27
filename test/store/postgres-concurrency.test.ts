import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEntry } from '../../src/domain/command.js';
import type { Status } from '../../src/domain/status.js';
import type { PostgresStore } from '../../src/store/postgres/store.js';
import type { ChainResult } from '../../src/store/store.js';
import { World, appiaError } from '../contract/store.contract.js';
import { GUARD, postgresFixture, until, waitingBackends } from './postgres-fixture.js';

/**
 * What SQLite's single writer gave for free, PostgreSQL must get from locks
 * and compare-and-set statements: here two stores (two nodes, each with its
 * own pool) race each other on one schema.
 */
const pg = await postgresFixture('concurrency');

describe('PostgreSQL store under concurrent nodes', { skip: pg.skip }, () => {
  let nodes: [PostgresStore, PostgresStore];
  const app = pg.applicationName('nodes');
  before(async () => {
    nodes = [await pg.open({ applicationName: app }), await pg.open({ applicationName: app })];
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await pg.cleanup();
  });
  /** the i-th call's node: calls alternate between the two */
  const node = (i: number) => nodes[i % 2]!;

  test('creates racing the open-command limit from two nodes never exceed it', async () => {
    const w = new World(nodes[0]);
    const user = w.user();
    const device = await w.device(user);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => node(i).createCommand(w.newCommand(device), { maxOpen: 5 })),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 5);
    assert.ok(outcomes.every((o) => o.status === 'fulfilled' || appiaError('tooManyOpen')(o.reason)));
    assert.equal((await nodes[1].listOpenCommands(device.id)).length, 5);
  });

  test('creates racing with one idempotency key from two nodes store one command, and all get it', async () => {
    const w = new World(nodes[0]);
    const user = w.user();
    const device = await w.device(user);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => node(i).createCommand(w.newCommand(device), { idempotencyKey: 'double-click', maxOpen: 10 })),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.command.id)).size, 1);
    assert.equal((await nodes[1].listCommands(user, device.id, { limit: 50 })).length, 1);
    assert.equal((await nodes[1].listUserHistorySince(user, 0, 50)).length, 1);
  });

  test("a device removed while creates race: every create it did not refuse is among the open commands its remover then sees", async () => {
    const w = new World(nodes[0]);
    const user = w.user();
    const device = await w.device(user);
    const creates = Array.from({ length: 60 }, (_, i) => node(i).createCommand(w.newCommand(device)));
    const seenByRemover = nodes[1].removeDevice(user, device.id, w.tick()).then(() => nodes[1].listOpenCommands(device.id));
    const outcomes = await Promise.allSettled(creates);
    const seen = new Set((await seenByRemover).map((c) => c.id));
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') assert.ok(seen.has(outcome.value.command.id), 'a command the removal never saw');
      else assert.ok(appiaError('notFound')(outcome.reason));
    }
  });

  test('of many timer claims racing from two nodes exactly one wins', async () => {
    const w = new World(nodes[0]);
    const device = await w.device(w.user());
    const { command } = await w.command(device);
    const due = w.tick() + 10_000;
    await w.move(command, 'sentToTarget', { dueAt: due });
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => node(i).claimTimer(command.id, 'sentToTarget', due, due + 1_000)));
    assert.equal(claims.filter(Boolean).length, 1);
    assert.equal((await nodes[1].getCommandById(command.id))?.dueAt, due + 1_000);
  });

  test('of different changes racing from two nodes on one command exactly one applies, with one history entry', async () => {
    const w = new World(nodes[0]);
    const device = await w.device(w.user());
    const { command } = await w.command(device);
    const targets: Status[] = ['sentToTarget', 'cancel', 'expired', 'failedToSend'];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        node(i).transitionChain([{ commandId: command.id, from: 'requesting', to: targets[i % targets.length]!, at: w.tick() }]),
      ),
    );
    const winners = results.flatMap((r) => r.applied);
    assert.equal(winners.length, 1);
    assert.deepEqual((await nodes[1].listHistory(command.id)).map((h) => h.status), ['requesting', winners[0]!.command.status]);
  });

  test("a device's chain racing another node's cancel: per command exactly one of them applies, and the chain stops there", async () => {
    const w = new World(nodes[0]);
    const device = await w.device(w.user());
    const commands = await Promise.all(Array.from({ length: 20 }, () => w.command(device)));
    const at = w.tick();
    const outcomes = await Promise.all(
      commands.map(({ command }, i) =>
        Promise.all([
          node(i).transitionChain([
            { commandId: command.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1 },
            { commandId: command.id, from: 'sentToTarget', to: 'executing', at },
          ]),
          node(i + 1).transitionChain([{ commandId: command.id, from: 'requesting', to: 'cancel', at }]),
        ]),
      ),
    );
    for (const [[chain, cancel], { command }] of outcomes.map((o, i) => [o, commands[i]!] as const)) {
      const history = (await nodes[0].listHistory(command.id)).map((h) => h.status);
      if (cancel.applied.length === 1) {
        assert.deepEqual([chain.applied.length, chain.refusedAt], [0, 0]);
        assert.deepEqual(history, ['requesting', 'cancel']);
      } else {
        assert.equal(chain.applied.length, 2);
        assert.deepEqual(history, ['requesting', 'sentToTarget', 'executing']);
      }
    }
  });

  test("a stale connection's Offline racing the device's new connection on another node never leaves it Offline", async () => {
    const w = new World(nodes[0]);
    const user = w.user();
    const devices = await Promise.all(Array.from({ length: 20 }, () => w.device(user)));
    await Promise.all(devices.map((d) => nodes[0].connectDevice(d.id, 'old', w.tick())));
    await Promise.all(
      devices.flatMap((d, i) => [node(i).connectDevice(d.id, 'new', w.tick()), node(i + 1).setDevicePresence(d.id, 'old', 'Offline', w.tick())]),
    );
    const after = await Promise.all(devices.map((d) => nodes[1].getDevice(user, d.id)));
    assert.deepEqual(after.map((d) => d?.status), devices.map(() => 'Online'));
    assert.equal(await nodes[1].setDevicePresence(devices[0]!.id, 'old', 'Offline', w.tick()), false);
  });

  test('postback claims racing from two nodes never hand one entry out twice while its lease holds', async () => {
    const w = new World(nodes[0]);
    const device = await w.device(w.user());
    const t0 = 5_000_000; // a timeline of its own: other tests' postbacks are not yet due in it
    const made = await Promise.all(
      Array.from({ length: 30 }, () => w.command(device, { postBackUri: 'https://hooks.example.com/a', createdAt: t0, expiresAt: t0 + 1_000 })),
    );
    const mine = new Set(made.map((m) => m.command.id));
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => node(i).claimPostbacks(t0, 4, 60_000)));
    const claimed = claims.flat().filter((p) => mine.has(p.commandId));
    assert.equal(new Set(claimed.map((p) => p.id)).size, claimed.length);
    assert.equal(claimed.length, 30);
  });

  describe('the history feed never skips an entry', () => {
    test('a reader never passes by a writer that drew a lower id and has not committed yet', GUARD, async () => {
      const w = new World(nodes[0]);
      const user = w.user();
      const device = await w.device(user);
      const a = await w.command(device);
      const b = await w.command(device);
      const afterId = b.history!.id;

      // another session holds A's next history key, so A's change draws its id and then waits, uncommitted
      const blocker = await pg.client(pg.sharedSchema);
      await blocker.query('BEGIN');
      await blocker.query(
        "INSERT INTO command_history (command_id, user_id, sequence, status, at) VALUES ($1, $2, 2, 'sentToTarget', 0)",
        [a.command.id, user],
      );
      let moveA: Promise<unknown> = Promise.resolve();
      try {
        moveA = nodes[0].transitionChain([{ commandId: a.command.id, from: 'requesting', to: 'sentToTarget', at: w.tick() }]);
        await until(async () => (await waitingBackends(pg, app, 'transactionid')) === 1);
        // B's change draws the next id and commits
        const movedB = await w.move(b.command, 'sentToTarget');

        let settled = false;
        const reading = nodes[1].listUserHistorySince(user, afterId, 10).finally(() => {
          settled = true;
        });
        await until(async () => settled || (await waitingBackends(pg, app, 'advisory')) === 1);
        await blocker.query('ROLLBACK');
        const movedA = ((await moveA) as ChainResult).applied[0]!;
        assert.ok(movedA.history.id < movedB.history.id, 'A drew the lower id');
        // Whatever the read gave, resuming from its last id gives the rest. Had it
        // answered B alone before A committed, resuming after B would skip A forever.
        const first = await reading;
        const rest = await nodes[0].listUserHistorySince(user, first.at(-1)?.id ?? afterId, 10);
        assert.deepEqual([...first, ...rest], [movedA.history, movedB.history]);
      } finally {
        await blocker.end();
        await moveA.catch(() => undefined);
      }
    });

    test('a reader following one busy user from its last id collects every entry, in id order, while two nodes commit', GUARD, async () => {
      const w = new World(nodes[0]);
      const user = w.user();
      const devices = await Promise.all([w.device(user), w.device(user), w.device(user)]);
      // each command: created, then a chain of two changes (one transaction), then one more change
      const writer = async (n: number) => {
        for (let i = 0; i < 25; i++) {
          const { command } = await node(n + i).createCommand(w.newCommand(devices[(n + i) % devices.length]!));
          const chain = await node(n + i + 1).transitionChain([
            { commandId: command.id, from: 'requesting', to: 'sentToTarget', at: w.tick(), attempts: 1 },
            { commandId: command.id, from: 'sentToTarget', to: 'executing', at: w.tick() },
          ]);
          assert.equal(chain.applied.length, 2);
          const last = await node(n + i).transitionChain([
            { commandId: command.id, from: 'executing', to: 'completed', at: w.tick(), responsePayloadJson: '{}' },
          ]);
          assert.equal(last.applied.length, 1);
        }
      };
      let writing = true;
      const writers = Promise.all(Array.from({ length: 8 }, (_, n) => writer(n))).finally(() => {
        writing = false;
      });

      const collected: HistoryEntry[] = [];
      let lastId = 0;
      for (;;) {
        const done = !writing;
        const page = await nodes[collected.length % 2]!.listUserHistorySince(user, lastId, 50);
        collected.push(...page);
        if (page.length > 0) lastId = page[page.length - 1]!.id;
        else if (done) break;
      }
      await writers;

      const ids = collected.map((e) => e.id);
      assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
      const everything = await nodes[0].listUserHistorySince(user, 0, 10_000);
      assert.equal(everything.length, 8 * 25 * 4);
      assert.deepEqual(collected, everything);
    });
  });
});
