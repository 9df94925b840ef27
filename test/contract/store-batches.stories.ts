import { describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRecord } from '../../src/domain/command.js';
import type { DeviceRecord } from '../../src/domain/device.js';
import type { NewBatch } from '../../src/store/store.js';
import { appiaError, type World } from './store.contract.js';

type Story = (title: string, body: (w: World) => Promise<void>) => void;

const DAY = 24 * 60 * 60 * 1000;
const HOOK = 'https://hooks.example.com/appia';

function newBatch(w: World, userId: string, devices: readonly Pick<DeviceRecord, 'id'>[], overrides: Partial<NewBatch> = {}): NewBatch {
  const createdAt = w.tick();
  return {
    id: w.commandIdAt(createdAt),
    userId,
    createdAt,
    command: {
      type: 'LaunchUri',
      payloadJson: '{"uri":"https://example.com/update"}',
      appServiceName: null,
      packageFamilyName: null,
      permissionTicket: null,
      postBackUri: null,
      expiresAt: createdAt + DAY,
    },
    targets: devices.map((d) => ({ deviceId: d.id, commandId: w.commandIdAt(createdAt) })),
    requireAll: true,
    ...overrides,
  };
}

/** DESIGN 9: command batches, in every adapter. */
export function batchStories(story: Story): void {
  describe('command batches', () => {
    story('a batch stores one ordinary command per device in one go, each carrying the batch id, with its history and postback', async (w) => {
      const user = w.user();
      const devices = [await w.device(user), await w.device(user), await w.device(user)];
      const asked = newBatch(w, user, devices, { command: { ...newBatch(w, user, []).command, postBackUri: HOOK } });
      const { batch, commands, created } = await w.store.createBatch(asked);
      assert.equal(created, true);
      assert.deepEqual([batch.id, batch.total, batch.counts], [asked.id, 3, { requesting: 3 }]);
      assert.deepEqual(
        commands.map((c) => [c.command.deviceId, c.command.batchId, c.command.status, c.history.sequence]),
        devices.map((d) => [d.id, asked.id, 'requesting', 1]),
      );
      assert.deepEqual(await w.store.getBatch(user, asked.id), batch);
      for (const { command } of commands) {
        // an ordinary command: on its device's list, with its history and its first postback
        assert.deepEqual(await w.store.listCommands(user, command.deviceId, { limit: 10 }), [command]);
        assert.deepEqual((await w.store.listHistory(command.id)).map((h) => h.status), ['requesting']);
        const [postback] = await w.store.listPostbacks(command.id);
        assert.deepEqual(JSON.parse(postback!.recordJson) as CommandRecord, command);
      }
      assert.deepEqual(await w.store.listBatchCommands(user, asked.id, { limit: 10 }), commands.map((c) => c.command).sort((a, b) => (a.id < b.id ? -1 : 1)));
    });

    story("a listed device that is not the caller's, or is removed, refuses the whole batch and stores nothing", async (w) => {
      const user = w.user();
      const mine = await w.device(user);
      const theirs = await w.device(w.user());
      const removed = await w.device(user);
      await w.store.removeDevice(user, removed.id, w.tick());
      for (const other of [theirs, removed, { id: '00000000-0000-4000-8000-000000000000' }]) {
        const asked = newBatch(w, user, [mine, other]);
        await assert.rejects(w.store.createBatch(asked), appiaError('notFound'));
        assert.equal(await w.store.getBatch(user, asked.id), undefined);
      }
      assert.deepEqual(await w.store.listCommands(user, mine.id, { limit: 10 }), []);
      assert.deepEqual(await w.store.listBatches(user, { limit: 10 }), []);
    });

    story('a batch to all devices leaves out those removed meanwhile', async (w) => {
      const user = w.user();
      const [a, b, c] = [await w.device(user), await w.device(user), await w.device(user)];
      await w.store.removeDevice(user, b.id, w.tick());
      const { batch, commands } = await w.store.createBatch(newBatch(w, user, [a, b, c], { requireAll: false }));
      assert.equal(batch.total, 2);
      assert.deepEqual(commands.map((x) => x.command.deviceId).sort(), [a.id, c.id].sort());
    });

    story('counts follow the commands, and its commands are paged in the order made, by status or open ones only', async (w) => {
      const user = w.user();
      const devices = [await w.device(user), await w.device(user), await w.device(user), await w.device(user)];
      const { batch, commands } = await w.store.createBatch(newBatch(w, user, devices));
      const [first, second, third] = commands.map((c) => c.command);
      await w.move((await w.move(first!, 'sentToTarget')).command, 'completed');
      await w.move(second!, 'sentToTarget');
      await w.move((await w.move(third!, 'cancel')).command, 'canceled');
      assert.deepEqual((await w.store.getBatch(user, batch.id))?.counts, { completed: 1, sentToTarget: 1, canceled: 1, requesting: 1 });
      const ids = commands.map((c) => c.command.id).sort();
      const page1 = await w.store.listBatchCommands(user, batch.id, { limit: 3 });
      const page2 = await w.store.listBatchCommands(user, batch.id, { limit: 3, afterId: page1[2]!.id });
      assert.deepEqual([...page1, ...page2].map((c) => c.id), ids);
      assert.deepEqual((await w.store.listBatchCommands(user, batch.id, { limit: 10, status: 'completed' })).map((c) => c.id), [first!.id]);
      const open = await w.store.listBatchCommands(user, batch.id, { limit: 10, open: true });
      assert.deepEqual(open.map((c) => c.status).sort(), ['requesting', 'sentToTarget']);
    });

    story('an Idempotency-Key replays the first batch as it stands; another request with it is refused', async (w) => {
      const user = w.user();
      const devices = [await w.device(user), await w.device(user)];
      const key = { idempotencyKey: 'nightly-update', idempotencyFingerprint: 'fp-batch' };
      const first = await w.store.createBatch(newBatch(w, user, devices), key);
      await w.move(first.commands[0]!.command, 'sentToTarget');
      const again = await w.store.createBatch(newBatch(w, user, devices), key);
      assert.equal(again.created, false);
      assert.deepEqual(again.commands, []);
      assert.deepEqual([again.batch.id, again.batch.counts], [first.batch.id, { requesting: 1, sentToTarget: 1 }]);
      assert.equal((await w.store.listBatches(user, { limit: 10 })).length, 1);
      await assert.rejects(w.store.createBatch(newBatch(w, user, devices), { ...key, idempotencyFingerprint: 'other' }), appiaError('idempotencyMismatch'));
      // one namespace of keys: a single create's key is not a batch's
      await w.command(devices[0]!, {}, { idempotencyKey: 'single', idempotencyFingerprint: 'fp' });
      await assert.rejects(w.store.createBatch(newBatch(w, user, devices), { idempotencyKey: 'single', idempotencyFingerprint: 'fp' }), appiaError('idempotencyMismatch'));
      await assert.rejects(w.command(devices[0]!, {}, { ...key, idempotencyFingerprint: 'fp-single' }), appiaError('idempotencyMismatch'));
    });

    story('a device at its open-command limit refuses the whole batch', async (w) => {
      const user = w.user();
      const [free, full] = [await w.device(user), await w.device(user)];
      await w.command(full);
      const asked = newBatch(w, user, [free, full]);
      await assert.rejects(w.store.createBatch(asked, { maxOpen: 1 }), appiaError('tooManyOpen'));
      assert.equal(await w.store.getBatch(user, asked.id), undefined);
      assert.deepEqual(await w.store.listCommands(user, free.id, { limit: 10 }), []);
    });

    story("another user never sees someone else's batch or its commands", async (w) => {
      const owner = w.user();
      const stranger = w.user();
      const { batch } = await w.store.createBatch(newBatch(w, owner, [await w.device(owner)]));
      assert.equal(await w.store.getBatch(stranger, batch.id), undefined);
      assert.deepEqual(await w.store.listBatches(stranger, { limit: 10 }), []);
      assert.deepEqual(await w.store.listBatchCommands(stranger, batch.id, { limit: 10 }), []);
    });

    story("a user's batches are listed newest first, a page at a time, each with its counts", async (w) => {
      const user = w.user();
      const device = await w.device(user);
      const made = [];
      for (let i = 0; i < 3; i++) made.push((await w.store.createBatch(newBatch(w, user, [device]))).batch);
      const page1 = await w.store.listBatches(user, { limit: 2 });
      const page2 = await w.store.listBatches(user, { limit: 2, beforeId: page1[1]!.id });
      assert.deepEqual([...page1, ...page2], [...made].reverse());
    });
  });
}
