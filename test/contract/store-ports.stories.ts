import { describe } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEntry } from '../../src/domain/command.js';
import { isAppiaError, type ErrorCode } from '../../src/domain/errors.js';
import type { World } from './store.contract.js';

const appiaError = (code: ErrorCode) => (err: unknown) => isAppiaError(err) && err.code === code;

type Story = (title: string, body: (w: World) => Promise<void>) => void;

/**
 * What SQLite gave for free and every adapter must state (one writer,
 * commits in order): racing limits, a gap-free feed, ordered chains, and
 * presence owned by the latest connection.
 */
export function portStories(story: Story): void {
  describe('concurrency the contract states', () => {
    story('creates racing the open-command limit at once never exceed it', async (w) => {
      const device = await w.device(w.user());
      const outcomes = await Promise.allSettled(Array.from({ length: 24 }, () => w.command(device, {}, { maxOpen: 5 })));
      const created = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(created.length, 5);
      assert.ok(outcomes.every((o) => o.status === 'fulfilled' || appiaError('tooManyOpen')(o.reason)));
      assert.equal((await w.store.listOpenCommands(device.id)).length, 5);
    });

    story('racing creates with one idempotency key store one command, and every caller gets it', async (w) => {
      const device = await w.device(w.user());
      const key = { idempotencyKey: 'retry-1', idempotencyFingerprint: 'same request' };
      const results = await Promise.all(Array.from({ length: 8 }, () => w.command(device, {}, key)));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.command.id)).size, 1);
      assert.equal((await w.store.listOpenCommands(device.id)).length, 1);
    });

    story('an idempotency key reused with another fingerprint is refused and stores nothing', async (w) => {
      const device = await w.device(w.user());
      const first = await w.command(device, {}, { idempotencyKey: 'k', idempotencyFingerprint: 'body A' });
      const replay = await w.command(device, {}, { idempotencyKey: 'k', idempotencyFingerprint: 'body A' });
      assert.equal(replay.created, false);
      assert.equal(replay.command.id, first.command.id);
      await assert.rejects(w.command(device, {}, { idempotencyKey: 'k', idempotencyFingerprint: 'body B' }), appiaError('idempotencyMismatch'));
      assert.equal((await w.store.listOpenCommands(device.id)).length, 1);
    });

    story('the history feed stays in order with no gap under concurrent commits', async (w) => {
      const user = w.user();
      const devices = await Promise.all([w.device(user), w.device(user), w.device(user)]);
      const seen: HistoryEntry[] = [];
      let writing = true;
      // a reader that resumes after the last id it saw, as an SSE client does
      const reader = (async () => {
        let afterId = 0;
        for (let idle = 0; writing || idle < 2; ) {
          const page = await w.store.listUserHistorySince(user, afterId, 50);
          if (page.length > 0) afterId = page[page.length - 1]!.id;
          else if (!writing) idle++;
          seen.push(...page);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await Promise.all(
        Array.from({ length: 120 }, async (_, i) => {
          const { command } = await w.command(devices[i % devices.length]!);
          await w.move(command, 'sentToTarget');
          await w.move({ ...command, status: 'sentToTarget' }, 'executing');
        }),
      );
      writing = false;
      await reader;
      const all = await w.store.listUserHistorySince(user, 0, 1000);
      assert.equal(all.length, 360);
      assert.deepEqual(seen.map((h) => h.id), all.map((h) => h.id));
    });

    story('the feed read from its head holds exactly the changes committed after the head was read', async (w) => {
      const user = w.user();
      assert.equal(await w.store.lastUserHistoryId(user), 0, 'a user without history starts at 0');
      const device = await w.device(user);
      const before = (await w.command(device)).command;
      const head = await w.store.lastUserHistoryId(user);
      assert.equal(head, (await w.store.listUserHistorySince(user, 0, 10)).at(-1)!.id);
      assert.equal(await w.store.lastUserHistoryId(w.user()), 0, "another user's history is not counted");
      const after = (await w.command(device)).command;
      await w.move(before, 'sentToTarget');
      const since = await w.store.listUserHistorySince(user, head, 10);
      assert.deepEqual(since.map((h) => [h.commandId, h.status]), [[after.id, 'requesting'], [before.id, 'sentToTarget']]);
      assert.equal(await w.store.lastUserHistoryId(user), since.at(-1)!.id);
    });
  });

  describe('chains of status changes', () => {
    story('a chain of changes is applied in order in one transaction, each deciding on the one before', async (w) => {
      const device = await w.device(w.user());
      const a = (await w.command(device)).command;
      const b = (await w.command(device)).command;
      const at = w.tick();
      const chain = await w.store.transitionChain([
        { commandId: a.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1 },
        { commandId: a.id, from: 'sentToTarget', to: 'executing', at },
        { commandId: b.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1 },
        { commandId: a.id, from: 'executing', to: 'completed', at, responsePayloadJson: '{"ok":true}' },
      ]);
      assert.equal(chain.refusedAt, undefined);
      assert.deepEqual(chain.applied.map((r) => [r.command.id, r.command.status, r.history.sequence]), [
        [a.id, 'sentToTarget', 2],
        [a.id, 'executing', 3],
        [b.id, 'sentToTarget', 2],
        [a.id, 'completed', 4],
      ]);
      const ids = chain.applied.map((r) => r.history.id);
      assert.deepEqual([...ids].sort((x, y) => x - y), ids);
      assert.equal((await w.store.getCommandById(a.id))?.responsePayloadJson, '{"ok":true}');
    });

    story('a chain stops at its first refused change: the changes before it are applied, none after it', async (w) => {
      const device = await w.device(w.user());
      const a = (await w.command(device)).command;
      const b = (await w.move((await w.command(device)).command, 'cancel')).command;
      const c = (await w.command(device)).command;
      const at = w.tick();
      const chain = await w.store.transitionChain([
        { commandId: a.id, from: 'requesting', to: 'sentToTarget', at },
        // b moved on to cancel: refused
        { commandId: b.id, from: 'requesting', to: 'sentToTarget', at },
        // valid on its own, but after the refusal: not applied
        { commandId: c.id, from: 'requesting', to: 'sentToTarget', at },
      ]);
      assert.equal(chain.refusedAt, 1);
      assert.deepEqual(chain.applied.map((r) => r.command.id), [a.id]);
      assert.equal((await w.store.getCommandById(a.id))?.status, 'sentToTarget');
      assert.equal((await w.store.getCommandById(b.id))?.status, 'cancel');
      assert.deepEqual(await w.store.getCommandById(c.id), c);
      assert.deepEqual((await w.store.listHistory(c.id)).map((h) => h.status), ['requesting']);
    });

    story('a chain naming a command that does not exist stops there', async (w) => {
      const device = await w.device(w.user());
      const a = (await w.command(device)).command;
      const chain = await w.store.transitionChain([
        { commandId: w.commandIdAt(w.tick()), from: 'requesting', to: 'sentToTarget', at: w.tick() },
        { commandId: a.id, from: 'requesting', to: 'sentToTarget', at: w.tick() },
      ]);
      assert.equal(chain.refusedAt, 0);
      assert.deepEqual(chain.applied, []);
      assert.equal((await w.store.getCommandById(a.id))?.status, 'requesting');
      assert.deepEqual(await w.store.transitionChain([]), { applied: [] });
    });
  });

  describe("a create's chain (the direct path: created and sent in one transaction)", () => {
    const sentOf = (w: World, id: string) => [{ commandId: id, from: 'requesting' as const, to: 'sentToTarget' as const, at: w.tick(), attempts: 1 }];
    /** the command is stored as created, and nothing of a refused chain with it */
    async function onlyCreated(w: World, id: string): Promise<void> {
      assert.equal((await w.store.getCommandById(id))?.status, 'requesting');
      assert.deepEqual((await w.store.listHistory(id)).map((h) => h.status), ['requesting']);
    }
    story('a create with a chain stores the command and applies the chain after it, with history and postbacks as separate writes would', async (w) => {
      const device = await w.device(w.user());
      const fresh = w.newCommand(device, { postBackUri: 'https://hooks.example/appia' });
      const at = fresh.createdAt + 1;
      const sent = { commandId: fresh.id, from: 'requesting' as const, to: 'sentToTarget' as const, at, attempts: 1, dueAt: at + 10_000 };
      const created = await w.store.createCommand(fresh, { chain: [sent] });
      assert.equal(created.created, true);
      assert.equal(created.command.status, 'requesting');
      assert.equal(created.chain?.refusedAt, undefined);
      const [applied] = created.chain!.applied;
      assert.deepEqual(applied!.command, { ...created.command, status: 'sentToTarget', lastModifiedAt: at, attempts: 1, dueAt: at + 10_000 });
      assert.equal(applied!.history.sequence, 2);
      assert.ok(applied!.history.id > created.history!.id);
      assert.deepEqual(await w.store.getCommandById(fresh.id), applied!.command);
      assert.deepEqual(await w.store.listHistory(fresh.id), [created.history, applied!.history]);
      assert.deepEqual((await w.store.listPostbacks(fresh.id)).map((p) => [p.sequence, (JSON.parse(p.recordJson) as { status: string }).status]), [
        [1, 'requesting'],
        [2, 'sentToTarget'],
      ]);
      // the feed has both entries, in order
      const feed = await w.store.listUserHistorySince(device.userId, created.history!.id - 1, 10);
      assert.deepEqual(feed.map((h) => h.status), ['requesting', 'sentToTarget']);
    });

    story('changes of one command in a row each start from the one before: every field a change set stays, as a read shows', async (w) => {
      const device = await w.device(w.user());
      const fresh = w.newCommand(device);
      const at = fresh.createdAt + 1;
      const created = await w.store.createCommand(fresh, {
        chain: [
          { commandId: fresh.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1, dueAt: at + 10_000 },
          { commandId: fresh.id, from: 'sentToTarget', to: 'executing', at: at + 1, dueAt: null },
          // refused: the command is executing by now
          { commandId: fresh.id, from: 'sentToTarget', to: 'executing', at: at + 2 },
        ],
      });
      assert.deepEqual(created.chain!.applied.map((r) => [r.command.status, r.command.attempts, r.command.dueAt, r.history.sequence]), [
        ['sentToTarget', 1, at + 10_000, 2],
        ['executing', 1, null, 3],
      ]);
      assert.equal(created.chain!.refusedAt, 2);
      const reports = await w.store.transitionChain([
        { commandId: fresh.id, from: 'executing', to: 'custom', at: at + 3, customStatus: 'half way' },
        { commandId: fresh.id, from: 'custom', to: 'completed', at: at + 4, responsePayloadJson: '{"ok":true}' },
      ]);
      const last = reports.applied.at(-1)!;
      assert.deepEqual(last.command, {
        ...created.command,
        status: 'completed',
        lastModifiedAt: at + 4,
        attempts: 1,
        dueAt: null,
        customStatus: 'half way',
        responsePayloadJson: '{"ok":true}',
      });
      assert.deepEqual(await w.store.getCommandById(fresh.id), last.command);
      const history = await w.store.listHistory(fresh.id);
      assert.deepEqual(history.map((h) => [h.sequence, h.status]), [[1, 'requesting'], [2, 'sentToTarget'], [3, 'executing'], [4, 'custom'], [5, 'completed']]);
      assert.deepEqual(history.slice(1), [...created.chain!.applied, ...reports.applied].map((r) => r.history));
    });

    story('a chain that does not fit the new command is refused, and the command is still created', async (w) => {
      const device = await w.device(w.user());
      const fresh = w.newCommand(device);
      const created = await w.store.createCommand(fresh, { chain: [{ commandId: fresh.id, from: 'executing', to: 'completed', at: w.tick() }] });
      assert.equal(created.created, true);
      assert.deepEqual(created.chain, { applied: [], refusedAt: 0 });
      await onlyCreated(w, fresh.id);
    });

    story("with chainConnection the chain applies only while that connection is the device's latest", async (w) => {
      const device = await w.device(w.user());
      const never = w.newCommand(device);
      assert.deepEqual((await w.store.createCommand(never, { chain: sentOf(w, never.id), chainConnection: 'c1' })).chain, { applied: [], refusedAt: 0 });
      assert.equal(await w.store.connectDevice(device.id, 'c1', w.tick()), true);
      const current = w.newCommand(device);
      assert.equal((await w.store.createCommand(current, { chain: sentOf(w, current.id), chainConnection: 'c1' })).chain?.applied[0]?.command.status, 'sentToTarget');
      assert.equal(await w.store.connectDevice(device.id, 'c2', w.tick()), true);
      const stale = w.newCommand(device);
      const refused = await w.store.createCommand(stale, { chain: sentOf(w, stale.id), chainConnection: 'c1' });
      assert.equal(refused.created, true);
      assert.deepEqual(refused.chain, { applied: [], refusedAt: 0 });
      await onlyCreated(w, stale.id);
    });

    story('an idempotent replay applies no chain; a refused create applies none either', async (w) => {
      const device = await w.device(w.user());
      const first = await w.command(device, {}, { idempotencyKey: 'k', idempotencyFingerprint: 'f' });
      const retry = w.newCommand(device);
      const replay = await w.store.createCommand(retry, {
        idempotencyKey: 'k',
        idempotencyFingerprint: 'f',
        chain: [{ commandId: first.command.id, from: 'requesting', to: 'sentToTarget', at: w.tick() }],
      });
      assert.equal(replay.created, false);
      assert.equal(replay.chain, undefined);
      assert.equal((await w.store.getCommandById(first.command.id))?.status, 'requesting');
      const limited = w.newCommand(device);
      await assert.rejects(
        w.store.createCommand(limited, { maxOpen: 1, chain: [{ commandId: limited.id, from: 'requesting', to: 'sentToTarget', at: w.tick() }] }),
        appiaError('tooManyOpen'),
      );
      assert.equal(await w.store.getCommandById(limited.id), undefined);
    });
  });

  describe('presence owned by the latest connection', () => {
    story('presence is guarded by a connection identity: a stale connection cannot mark a device Offline over a newer one', async (w) => {
      const user = w.user();
      const device = await w.device(user);
      assert.equal(await w.store.connectDevice(device.id, 'old', w.tick()), true);
      const newer = w.tick();
      assert.equal(await w.store.connectDevice(device.id, 'new', newer), true);
      assert.equal(await w.store.setDevicePresence(device.id, 'old', 'Offline', w.tick()), false);
      assert.deepEqual(await w.store.getDevice(user, device.id), { ...device, status: 'Online', lastSeenAt: newer });
      assert.equal(await w.store.setDevicePresence(device.id, 'old', 'Standby', w.tick()), false);
      const gone = w.tick();
      assert.equal(await w.store.setDevicePresence(device.id, 'new', 'Offline', gone), true);
      assert.deepEqual(await w.store.getDevice(user, device.id), { ...device, status: 'Offline', lastSeenAt: gone });
      assert.equal(await w.store.setDevicePresence(device.id, 'never connected', 'Online', w.tick()), false);
    });
  });
}
