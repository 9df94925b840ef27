import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { CommandRecord, HistoryEntry } from '../../src/domain/command.js';
import type { DeviceRecord } from '../../src/domain/device.js';
import { type ErrorCode, isAppiaError } from '../../src/domain/errors.js';
import { commandId } from '../../src/domain/ids.js';
import type { Status } from '../../src/domain/status.js';
import type { CreateOptions, CreateResult, NewCommand, NewDevice, StatusChange, Store } from '../../src/store/store.js';
import { batchStories } from './store-batches.stories.js';
import { deviceStories } from './store-devices.stories.js';
import { pairingStories } from './store-pairing.stories.js';
import { portStories } from './store-ports.stories.js';
import { postbackStories } from './store-postbacks.stories.js';

const DAY = 24 * 60 * 60 * 1000;

/**
 * The behaviour every Store adapter must have (DESIGN 1: one interface, one
 * contract suite, run against each adapter). `makeStore` gives a store for one
 * test (the test closes it); `cleanup` runs once after the whole suite.
 *
 * Tests make their own users with random ids, so an adapter may hand every
 * test the same database. Times are based on the real clock so that default
 * idempotency windows are open; the one test that needs a fixed timeline
 * (listDue) uses times long past, which no other test's commands reach.
 */
export function storeContract(
  name: string,
  makeStore: () => Promise<Store>,
  cleanup?: () => Promise<void> | void,
): void {
  describe(`Store contract: ${name}`, () => {
    if (cleanup) after(cleanup);

    const story = (title: string, body: (w: World) => Promise<void>) =>
      test(title, async () => {
        const store = await makeStore();
        try {
          await body(new World(store));
        } finally {
          await store.close();
        }
      });

    describe('devices', () => {
      story('a registered device is found by its owner, by its id and by its token, and starts Offline, never seen', async (w) => {
        const user = w.user();
        const device = await w.device(user, { name: 'Kitchen tablet', kind: 'Tablet', platform: 'Android' });
        assert.equal(device.status, 'Offline');
        assert.equal(device.lastSeenAt, null);
        assert.equal(device.name, 'Kitchen tablet');
        assert.deepEqual(await w.store.getDevice(user, device.id), device);
        assert.deepEqual(await w.store.findDeviceByTokenHash(w.tokenHashOf(device)), device);
        assert.equal(await w.store.findDeviceByTokenHash('no such hash'), undefined);
      });

      story("another user never sees someone else's device", async (w) => {
        const owner = w.user();
        const stranger = w.user();
        const device = await w.device(owner);
        assert.equal(await w.store.getDevice(stranger, device.id), undefined);
        assert.deepEqual(await w.store.listDevices(stranger, { limit: 10, offset: 0 }), []);
        assert.equal(await w.store.removeDevice(stranger, device.id, w.tick()), false);
        assert.deepEqual(await w.store.getDevice(owner, device.id), device);
      });

      story("a user's devices are listed oldest first, a page at a time", async (w) => {
        const user = w.user();
        const times = [w.tick(), w.tick(), w.tick(), w.tick(), w.tick()];
        // registered out of order: the listing follows registration time, not arrival
        const devices: DeviceRecord[] = [];
        for (const at of [times[3]!, times[0]!, times[4]!, times[1]!, times[2]!]) devices.push(await w.device(user, { createdAt: at }));
        const expected = [...devices].sort((a, b) => a.createdAt - b.createdAt).map((d) => d.id);
        const pages = [
          await w.store.listDevices(user, { limit: 2, offset: 0 }),
          await w.store.listDevices(user, { limit: 2, offset: 2 }),
          await w.store.listDevices(user, { limit: 2, offset: 4 }),
        ];
        assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
        assert.deepEqual(pages.flat().map((d) => d.id), expected);
      });

      story('presence is stored: a device goes Online, then Standby, and its last-seen time follows', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const seen = w.tick();
        assert.equal(await w.store.connectDevice(device.id, 'conn-1', seen), true);
        assert.deepEqual(await w.store.getDevice(user, device.id), { ...device, status: 'Online', lastSeenAt: seen });
        const later = w.tick();
        assert.equal(await w.store.setDevicePresence(device.id, 'conn-1', 'Standby', later), true);
        const found = await w.store.findDeviceByTokenHash(w.tokenHashOf(device));
        assert.equal(found?.status, 'Standby');
        assert.equal(found?.lastSeenAt, later);
      });

      story("a removed device's token no longer finds it, and it is no longer listed or found", async (w) => {
        const user = w.user();
        const kept = await w.device(user);
        const removed = await w.device(user);
        const { command } = await w.command(removed);
        assert.equal(await w.store.removeDevice(user, removed.id, w.tick()), true);

        assert.equal(await w.store.findDeviceByTokenHash(w.tokenHashOf(removed)), undefined);
        assert.equal(await w.store.getDevice(user, removed.id), undefined);
        assert.deepEqual((await w.store.listDevices(user, { limit: 10, offset: 0 })).map((d) => d.id), [kept.id]);
        // a late presence report from its last connection does not bring it back
        assert.equal(await w.store.connectDevice(removed.id, 'late', w.tick()), false);
        assert.equal(await w.store.setDevicePresence(removed.id, 'late', 'Online', w.tick()), false);
        assert.equal(await w.store.getDevice(user, removed.id), undefined);
        // removing twice is not a second removal
        assert.equal(await w.store.removeDevice(user, removed.id, w.tick()), false);
        // its commands stay stored for the caller to end through the lifecycle
        assert.deepEqual(await w.store.getCommandById(command.id), command);
        assert.deepEqual((await w.store.listOpenCommands(removed.id)).map((c) => c.id), [command.id]);
      });

      story('a token hash belongs to one device: registering a second device with it is refused as a conflict', async (w) => {
        const user = w.user();
        const first = await w.device(user);
        await assert.rejects(w.device(w.user(), { tokenHash: w.tokenHashOf(first) }), appiaError('conflict'));
        assert.deepEqual(await w.store.findDeviceByTokenHash(w.tokenHashOf(first)), first);
      });
    });

    describe('commands', () => {
      story('a new command is stored requesting, with history entry 1, its JSON kept exactly as given', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const payloadJson = '{ "b":1.50,\n  "a": ["é", "\\u0000", 12345678901234567890], "z": {} }';
        const created = await w.command(device, {
          type: 'AppService',
          payloadJson,
          appServiceName: 'com.example.echo',
          packageFamilyName: 'Example.Echo_8wekyb3d8bbwe',
          permissionTicket: 'ticket-1',
          postBackUri: 'https://example.com/postback',
        });
        assert.equal(created.created, true);
        const { command } = created;
        assert.equal(command.status, 'requesting');
        assert.equal(command.payloadJson, payloadJson);
        assert.equal(command.lastModifiedAt, command.createdAt);
        assert.equal(command.attempts, 0);
        assert.equal(command.dueAt, null);
        assert.equal(command.error, null);
        assert.equal(command.responsePayloadJson, null);
        assert.equal(command.customStatus, null);
        assert.deepEqual(created.history, {
          id: created.history!.id,
          commandId: command.id,
          sequence: 1,
          status: 'requesting',
          at: command.createdAt,
          detail: null,
        });
        assert.deepEqual(await w.store.getCommandById(command.id), command);
        assert.deepEqual(await w.store.getCommand(user, device.id, command.id), command);
        assert.deepEqual(await w.store.listHistory(command.id), [created.history]);
      });

      story('a command is only found through its own user and its own device', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const sibling = await w.device(user);
        const { command } = await w.command(device);
        assert.equal(await w.store.getCommand(w.user(), device.id, command.id), undefined);
        assert.equal(await w.store.getCommand(user, sibling.id, command.id), undefined);
        assert.deepEqual(await w.store.listCommands(user, sibling.id, { limit: 10 }), []);
        assert.equal(await w.store.getCommandById(w.commandIdAt(w.tick())), undefined);
      });

      story("a command for a device that is missing, removed or someone else's is refused notFound, and nothing is stored", async (w) => {
        const user = w.user();
        const other = w.user();
        const removed = await w.device(user);
        await w.store.removeDevice(user, removed.id, w.tick());
        const othersDevice = await w.device(other);
        const missing = { id: randomUUID(), userId: user };

        for (const device of [missing, removed, { ...othersDevice, userId: user }]) {
          const attempt = w.newCommand(device);
          await assert.rejects(w.store.createCommand(attempt), appiaError('notFound'));
          assert.equal(await w.store.getCommandById(attempt.id), undefined);
        }
        assert.deepEqual(await w.store.listUserHistorySince(user, 0, 100), []);
        assert.deepEqual(await w.store.listCommands(other, othersDevice.id, { limit: 10 }), []);
      });

      story('an idempotent replay returns the first command and stores nothing new', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const first = await w.command(device, {}, { idempotencyKey: 'order-42' });
        const retry = w.newCommand(device);
        const replay = await w.store.createCommand(retry, { idempotencyKey: 'order-42' });

        assert.equal(replay.created, false);
        assert.equal(replay.history, undefined);
        assert.deepEqual(replay.command, first.command);
        assert.equal(await w.store.getCommandById(retry.id), undefined);
        assert.deepEqual((await w.store.listCommands(user, device.id, { limit: 10 })).map((c) => c.id), [first.command.id]);
        assert.deepEqual(await w.store.listUserHistorySince(user, 0, 100), [first.history]);
      });

      story('a replay answers the command as it is now, not as it was created', async (w) => {
        const device = await w.device(w.user());
        const first = await w.command(device, {}, { idempotencyKey: 'k' });
        const moved = await w.move(first.command, 'sentToTarget', { attempts: 1 });
        const replay = await w.store.createCommand(w.newCommand(device), { idempotencyKey: 'k' });
        assert.deepEqual(replay.command, moved.command);
      });

      story('idempotency keys are per user: the same key from two users makes two commands', async (w) => {
        const alice = await w.device(w.user());
        const bob = await w.device(w.user());
        const a = await w.command(alice, {}, { idempotencyKey: 'same' });
        const b = await w.command(bob, {}, { idempotencyKey: 'same' });
        assert.equal(b.created, true);
        assert.notEqual(a.command.id, b.command.id);
        assert.equal(b.command.userId, bob.userId);
      });

      story('an expired idempotency key no longer replays, and the next create takes it over', async (w) => {
        const device = await w.device(w.user());
        const first = await w.command(device, {}, { idempotencyKey: 'nightly', idempotencyExpiresAt: 1 });
        const second = await w.command(device, {}, { idempotencyKey: 'nightly' });
        assert.equal(second.created, true);
        assert.notEqual(second.command.id, first.command.id);
        const third = await w.store.createCommand(w.newCommand(device), { idempotencyKey: 'nightly' });
        assert.equal(third.created, false);
        assert.equal(third.command.id, second.command.id);
      });

      story('five creates racing with one idempotency key store one command, and all five get it', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const results = await Promise.all(
          Array.from({ length: 5 }, () => w.store.createCommand(w.newCommand(device), { idempotencyKey: 'tap-tap-tap' })),
        );
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(new Set(results.map((r) => r.command.id)).size, 1);
        assert.equal((await w.store.listCommands(user, device.id, { limit: 10 })).length, 1);
      });

      story('a device with maxOpen open commands refuses the next (tooManyOpen) until one ends', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const neighbour = await w.device(user);
        const limit = { maxOpen: 3 };
        const open = [
          await w.command(device, {}, { ...limit, idempotencyKey: 'first' }),
          await w.command(device, {}, limit),
          await w.command(device, {}, limit),
        ];
        const refused = w.newCommand(device);
        await assert.rejects(w.store.createCommand(refused, limit), appiaError('tooManyOpen'));
        assert.equal(await w.store.getCommandById(refused.id), undefined);
        // a retry of a create that was accepted is still answered at the limit
        const replay = await w.store.createCommand(w.newCommand(device), { ...limit, idempotencyKey: 'first' });
        assert.equal(replay.command.id, open[0]!.command.id);
        // the limit is per device
        assert.equal((await w.command(neighbour, {}, limit)).created, true);
        // 0 means no limit
        assert.equal((await w.command(device, {}, { maxOpen: 0 })).created, true);

        await w.move(open[1]!.command, 'expired');
        await w.move(open[2]!.command, 'expired');
        assert.equal((await w.command(device, {}, limit)).created, true);
        await assert.rejects(w.store.createCommand(w.newCommand(device), limit), appiaError('tooManyOpen'));
      });

      story('commands are listed newest first, filtered by status, a page at a time by beforeId', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const other = await w.device(user);
        await w.command(other);
        const made: CommandRecord[] = [];
        for (let i = 0; i < 7; i++) made.push((await w.command(device)).command);
        for (const i of [0, 3, 4, 6]) made[i] = (await w.move(made[i]!, 'sentToTarget')).command;
        const newestFirst = [...made].reverse();

        const pages: CommandRecord[][] = [];
        let beforeId: string | undefined;
        do {
          const page = await w.store.listCommands(user, device.id, { limit: 3, ...(beforeId ? { beforeId } : {}) });
          pages.push(page);
          beforeId = page.length === 3 ? page[2]!.id : undefined;
        } while (beforeId);
        assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
        assert.deepEqual(pages.flat(), newestFirst);

        const sent = newestFirst.filter((c) => c.status === 'sentToTarget');
        assert.deepEqual(await w.store.listCommands(user, device.id, { limit: 10, status: 'sentToTarget' }), sent);
        const secondPage = await w.store.listCommands(user, device.id, { limit: 2, status: 'sentToTarget', beforeId: sent[1]!.id });
        assert.deepEqual(secondPage, sent.slice(2, 4));
        assert.deepEqual(await w.store.listCommands(user, device.id, { limit: 10, status: 'completed' }), []);
      });

      story("a device's open commands are its non-final ones, oldest first", async (w) => {
        const user = w.user();
        const device = await w.device(user);
        await w.command(await w.device(user));
        const made: CommandRecord[] = [];
        for (let i = 0; i < 5; i++) made.push((await w.command(device)).command);
        made[1] = (await w.move(made[1]!, 'sentToTarget')).command;
        made[1] = (await w.move(made[1]!, 'completed', { responsePayloadJson: '{}' })).command;
        made[3] = (await w.move(made[3]!, 'cancel')).command;
        assert.deepEqual(await w.store.listOpenCommands(device.id), [made[0], made[2], made[3], made[4]]);
      });
    });

    describe('status changes', () => {
      story('a status change is a compare-and-set that records its time and its history entry', async (w) => {
        const device = await w.device(w.user());
        const { command, history: born } = await w.command(device);
        const at = w.tick();
        const change = await w.transition({
          commandId: command.id,
          from: 'requesting',
          to: 'sentToTarget',
          at,
          detail: 'attempt 1',
          attempts: 1,
          dueAt: at + 10_000,
        });
        assert.ok(change);
        assert.deepEqual(change.command, { ...command, status: 'sentToTarget', lastModifiedAt: at, attempts: 1, dueAt: at + 10_000 });
        assert.equal(change.history.sequence, 2);
        assert.equal(change.history.status, 'sentToTarget');
        assert.equal(change.history.at, at);
        assert.equal(change.history.detail, 'attempt 1');
        assert.ok(change.history.id > born!.id);
        assert.deepEqual(await w.store.getCommandById(command.id), change.command);
        assert.deepEqual(await w.store.listHistory(command.id), [born, change.history]);
      });

      story('when two callers race the same compare-and-set, exactly one wins', async (w) => {
        const device = await w.device(w.user());
        const { command } = await w.command(device);
        // a device report and the owner's cancel arrive together
        const [sent, canceled] = await Promise.all([
          w.transition({ commandId: command.id, from: 'requesting', to: 'sentToTarget', at: w.tick() }),
          w.transition({ commandId: command.id, from: 'requesting', to: 'cancel', at: w.tick() }),
        ]);
        const winners = [sent, canceled].filter((r) => r !== undefined);
        assert.equal(winners.length, 1);
        assert.equal((await w.store.getCommandById(command.id))?.status, winners[0]!.command.status);
        assert.deepEqual((await w.store.listHistory(command.id)).map((h) => h.status), ['requesting', winners[0]!.command.status]);
      });

      story('a change from a status the command has already left is refused and changes nothing', async (w) => {
        const device = await w.device(w.user());
        const { command } = await w.command(device);
        const moved = await w.move(command, 'sentToTarget');
        const stale = await w.transition({
          commandId: command.id,
          from: 'requesting',
          to: 'expired',
          at: w.tick(),
          error: 'late',
        });
        assert.equal(stale, undefined);
        assert.deepEqual(await w.store.getCommandById(command.id), moved.command);
        assert.equal((await w.store.listHistory(command.id)).length, 2);
        const nobody = w.commandIdAt(w.tick());
        const ghost = await w.transition({ commandId: nobody, from: 'requesting', to: 'sentToTarget', at: w.tick() });
        assert.equal(ghost, undefined);
      });

      story('optional fields: left out keeps a value, null clears it, a value sets it', async (w) => {
        const device = await w.device(w.user());
        const { command } = await w.command(device);
        const sent = await w.move(command, 'sentToTarget', { attempts: 1, dueAt: 5_000 });
        const custom = await w.move(sent.command, 'custom', {
          customStatus: '40%',
          error: 'transient',
          responsePayloadJson: '{"partial":true}',
        });
        assert.equal(custom.command.customStatus, '40%');
        assert.equal(custom.command.error, 'transient');
        assert.equal(custom.command.responsePayloadJson, '{"partial":true}');
        assert.equal(custom.command.attempts, 1);
        assert.equal(custom.command.dueAt, 5_000);

        const again = await w.move(custom.command, 'custom', {});
        assert.deepEqual(again.command, { ...custom.command, lastModifiedAt: again.command.lastModifiedAt });

        const cleared = await w.move(again.command, 'custom', {
          customStatus: null,
          error: null,
          responsePayloadJson: null,
          dueAt: null,
          attempts: 0,
        });
        assert.equal(cleared.command.customStatus, null);
        assert.equal(cleared.command.error, null);
        assert.equal(cleared.command.responsePayloadJson, null);
        assert.equal(cleared.command.dueAt, null);
        assert.equal(cleared.command.attempts, 0);
        assert.deepEqual(await w.store.getCommandById(command.id), cleared.command);
      });

      story("a command's history runs 1, 2, 3... through its life, while history ids rise across all commands", async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const a = await w.command(device);
        const b = await w.command(device);
        const path: Status[] = ['sentToTarget', 'executing', 'custom', 'custom', 'completed'];
        let ca = a.command;
        let cb = b.command;
        const entries: HistoryEntry[] = [a.history!, b.history!];
        for (const to of path) {
          const extra: Partial<StatusChange> =
            to === 'completed' ? { responsePayloadJson: '{"ok": true}' } : to === 'custom' ? { customStatus: 'busy' } : {};
          const ra = await w.move(ca, to, extra);
          const rb = await w.move(cb, to, extra);
          ca = ra.command;
          cb = rb.command;
          entries.push(ra.history, rb.history);
        }
        const ids = entries.map((e) => e.id);
        assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
        assert.equal(new Set(ids).size, ids.length);
        const historyOfA = await w.store.listHistory(ca.id);
        assert.deepEqual(historyOfA.map((h) => h.sequence), [1, 2, 3, 4, 5, 6]);
        assert.deepEqual(historyOfA.map((h) => h.status), ['requesting', ...path]);
        assert.deepEqual(historyOfA, entries.filter((e) => e.commandId === ca.id));
        assert.equal((await w.store.getCommandById(ca.id))?.responsePayloadJson, '{"ok": true}');
      });
    });

    describe('timers', () => {
      story('exactly one of several racing timer claims wins, and a stale claim never does', async (w) => {
        const device = await w.device(w.user());
        const { command } = await w.command(device);
        const due = w.tick() + 10_000;
        const sent = await w.move(command, 'sentToTarget', { dueAt: due });

        const claims = await Promise.all(Array.from({ length: 5 }, () => w.store.claimTimer(command.id, 'sentToTarget', due, due + 1_000)));
        assert.deepEqual(claims.filter(Boolean).length, 1);
        assert.equal((await w.store.getCommandById(command.id))?.dueAt, due + 1_000);

        assert.equal(await w.store.claimTimer(command.id, 'sentToTarget', due, due + 2_000), false);
        assert.equal(await w.store.claimTimer(command.id, 'retry', due + 1_000, null), false);
        assert.equal(await w.store.claimTimer(command.id, 'sentToTarget', due + 1_000, null), true);
        const after = await w.store.getCommandById(command.id);
        assert.equal(after?.dueAt, null);
        assert.equal(after?.lastModifiedAt, sent.command.lastModifiedAt);
        assert.equal((await w.store.listHistory(command.id)).length, 2, 'a timer claim is not a status change');
      });

      story('listDue finds open commands whose timer or expiry has come, soonest first', async (w) => {
        const device = await w.device(w.user());
        // a timeline long past, so no other test's commands are due in it
        const at = (ms: number) => 1_000_000 + ms;
        const make = async (expiresAt: number, dueAt: number | null, status: Status = 'sentToTarget') => {
          const { command } = await w.command(device, { createdAt: at(0), expiresAt: at(expiresAt) });
          let moved = (await w.move(command, 'sentToTarget', { dueAt: dueAt === null ? null : at(dueAt) })).command;
          if (status !== 'sentToTarget') moved = (await w.move(moved, status)).command;
          return moved;
        };
        const timerDue = await make(100_000, 5_000);
        const expiryDue = await make(3_000, null);
        await make(100_000, 9_000); // its timer is still ahead
        await make(100_000, 1_000, 'completed'); // final: never due
        const expiresBeforeTimer = await make(4_000, 7_000);
        const requesting = (await w.command(device, { createdAt: at(0), expiresAt: at(5_500) })).command;

        const due = await w.store.listDue(at(6_000), 10);
        assert.deepEqual(due.map((c) => c.id), [expiryDue.id, expiresBeforeTimer.id, timerDue.id, requesting.id]);
        assert.deepEqual(due[0], expiryDue);
        assert.deepEqual((await w.store.listDue(at(6_000), 2)).map((c) => c.id), [expiryDue.id, expiresBeforeTimer.id]);
        assert.deepEqual(await w.store.listDue(at(2_000), 10), []);
      });

      story('listUndelivered finds commands waiting for delivery, with no timer, on devices that are present', async (w) => {
        const user = w.user();
        const online = await w.device(user);
        const standby = await w.device(user);
        const offline = await w.device(user);
        const removed = await w.device(user);
        await w.store.connectDevice(online.id, 'c1', w.tick());
        await w.store.connectDevice(standby.id, 'c2', w.tick());
        await w.store.setDevicePresence(standby.id, 'c2', 'Standby', w.tick());
        await w.store.connectDevice(removed.id, 'c3', w.tick());
        // a timeline long past, so no other test's commands are old enough
        const at = (ms: number) => 2_000_000 + ms;
        const make = async (device: DeviceRecord, createdAt = at(0)) =>
          (await w.command(device, { createdAt, expiresAt: at(100_000) })).command;

        const waiting = await make(online);
        const onStandby = await make(standby);
        const parkedRetry = (await w.move(await make(online), 'retry', { at: at(1_000), dueAt: null })).command;
        await w.move(await make(online), 'retry', { at: at(1_000), dueAt: at(9_000) }); // its own timer will wake it
        await w.move(await make(online), 'sentToTarget', { at: at(1_000), dueAt: at(9_000) }); // already delivered
        await make(online, at(6_000)); // too recent
        await make(offline); // its device is away: the reconnect delivers it
        await make(removed);
        assert.equal(await w.store.removeDevice(user, removed.id, w.tick()), true);

        const found = await w.store.listUndelivered(at(5_000), 100);
        const mine = new Set([online.id, standby.id, offline.id, removed.id]);
        assert.deepEqual(
          found.filter((c) => mine.has(c.deviceId)).map((c) => c.id).sort(),
          [waiting.id, onStandby.id, parkedRetry.id].sort(),
        );
        assert.deepEqual(found.find((c) => c.id === parkedRetry.id), parkedRetry);
      });
    });

    pairingStories(story);
    portStories(story);
    deviceStories(story);
    postbackStories(story);
    batchStories(story);

    describe('history feed', () => {
      story("a user's history can be followed from any event id, in order, and never shows another user's", async (w) => {
        const alice = w.user();
        const bob = w.user();
        const aliceDevice = await w.device(alice);
        const bobDevice = await w.device(bob);
        const expected: HistoryEntry[] = [];
        const a1 = await w.command(aliceDevice);
        expected.push(a1.history!);
        await w.command(bobDevice);
        const a2 = await w.command(aliceDevice);
        expected.push(a2.history!);
        const b2 = await w.command(bobDevice);
        expected.push((await w.move(a1.command, 'sentToTarget')).history);
        await w.move(b2.command, 'sentToTarget');
        expected.push((await w.move(a2.command, 'cancel', { detail: 'owner asked' })).history);

        assert.deepEqual(await w.store.listUserHistorySince(alice, 0, 100), expected);
        const resumed: HistoryEntry[] = [];
        let afterId = 0;
        for (;;) {
          const page = await w.store.listUserHistorySince(alice, afterId, 3);
          if (page.length === 0) break;
          resumed.push(...page);
          afterId = page[page.length - 1]!.id;
        }
        assert.deepEqual(resumed, expected);
        assert.deepEqual(await w.store.listUserHistorySince(alice, expected[1]!.id, 100), expected.slice(2));
        const bobsFeed = await w.store.listUserHistorySince(bob, 0, 100);
        assert.equal(bobsFeed.length, 3);
        assert.ok(bobsFeed.every((h) => h.commandId !== a1.command.id && h.commandId !== a2.command.id));
      });
    });

    describe('users', () => {
      story("a user's postback secret is the first one offered, and later offers do not replace it", async (w) => {
        const user = w.user();
        await w.device(user); // a user who already has devices
        const first = { current: 'first-secret', previous: null, previousUntil: null };
        assert.deepEqual(await w.store.ensurePostbackSecrets(user, 'first-secret'), first);
        assert.deepEqual(await w.store.ensurePostbackSecrets(user, 'second-secret'), first);
        assert.equal((await w.store.ensurePostbackSecrets(w.user(), 'own-secret')).current, 'own-secret');
        const newcomer = w.user();
        const racing = await Promise.all([w.store.ensurePostbackSecrets(newcomer, 'a'), w.store.ensurePostbackSecrets(newcomer, 'b')]);
        assert.deepEqual(racing[0], racing[1]);
      });
    });

    describe('durable writes under load (group commit)', () => {
      story('group commit: 200 concurrent transitions all resolve and all are stored', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const created = await Promise.all(Array.from({ length: 200 }, () => w.store.createCommand(w.newCommand(device))));
        assert.ok(created.every((r) => r.created));
        const at = w.tick();
        const moved = await Promise.all(
          created.map(({ command }, i) =>
            w.transition({ commandId: command.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1, detail: `#${i}` }),
          ),
        );
        assert.ok(moved.every((r) => r?.command.status === 'sentToTarget'));
        assert.equal(new Set(moved.map((r) => r!.history.id)).size, 200);
        const stored = await w.store.listCommands(user, device.id, { limit: 500, status: 'sentToTarget' });
        assert.equal(stored.length, 200);
        assert.ok(stored.every((c) => c.attempts === 1 && c.lastModifiedAt === at));
        assert.equal((await w.store.listUserHistorySince(user, 0, 1000)).length, 400);
      });

      story('one failing write in a batch does not fail its neighbours, and leaves nothing behind', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const full = await w.device(user);
        await w.command(full, {}, { maxOpen: 1 });
        const { command: open } = await w.command(device);

        const good = w.newCommand(device);
        const unknownDevice = w.newCommand({ ...device, id: randomUUID() });
        const overLimit = w.newCommand(full);
        // all issued in one tick, so they share one transaction
        const outcomes = await Promise.allSettled([
          w.store.createCommand(good),
          w.store.createCommand(unknownDevice),
          w.transition({ commandId: open.id, from: 'requesting', to: 'sentToTarget', at: w.tick() }),
          w.store.createDevice(w.newDevice(w.user(), { tokenHash: w.tokenHashOf(device) })),
          w.store.createCommand(overLimit, { maxOpen: 1 }),
          w.store.ensurePostbackSecrets(user, 'secret'),
        ]);
        assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
        assert.ok(appiaError('notFound')((outcomes[1] as PromiseRejectedResult).reason));
        assert.ok(appiaError('conflict')((outcomes[3] as PromiseRejectedResult).reason));
        assert.ok(appiaError('tooManyOpen')((outcomes[4] as PromiseRejectedResult).reason));

        assert.equal((await w.store.getCommandById(good.id))?.status, 'requesting');
        assert.equal((await w.store.getCommandById(open.id))?.status, 'sentToTarget');
        assert.equal(await w.store.getCommandById(unknownDevice.id), undefined);
        assert.equal(await w.store.getCommandById(overLimit.id), undefined);
        assert.deepEqual(await w.store.listHistory(overLimit.id), []);
        assert.equal((await w.store.ensurePostbackSecrets(user, 'other')).current, 'secret');
      });

      story('closing commits the writes still queued, and the store then refuses work', async (w) => {
        const user = w.user();
        const device = await w.device(user);
        const { command } = await w.command(device);
        const moving = w.transition({ commandId: command.id, from: 'requesting', to: 'sentToTarget', at: w.tick() });
        const presence = w.store.connectDevice(device.id, 'c', w.tick());
        const secret = w.store.ensurePostbackSecrets(user, 'kept');
        await w.store.close();
        assert.equal((await moving)?.command.status, 'sentToTarget');
        await presence;
        assert.equal((await secret).current, 'kept');
        await assert.rejects(w.store.getCommandById(command.id), appiaError('unavailable'));
        await assert.rejects(w.store.createCommand(w.newCommand(device)), appiaError('unavailable'));
        await w.store.close(); // closing twice is harmless
      });

      story('a store that answers is ready', async (w) => {
        await w.store.ping();
      });
    });
  });
}

/** an assert.rejects validator for an AppiaError with this code */
export function appiaError(code: ErrorCode): (err: unknown) => boolean {
  return (err) => isAppiaError(err) && err.code === code;
}

/**
 * One test's world: its store, and makers of users, devices and commands with
 * a clock that only moves forward (so command ids are ordered as made).
 */
export class World {
  readonly store: Store;
  #time = Date.now();
  readonly #tokenHashes = new Map<string, string>();

  constructor(store: Store) {
    this.store = store;
  }

  tick(): number {
    return ++this.#time;
  }

  user(): string {
    return `user-${randomUUID()}`;
  }

  commandIdAt(at: number): string {
    return commandId(at, randomBytes(14));
  }

  newDevice(userId: string, overrides: Partial<NewDevice> = {}): NewDevice {
    return {
      id: randomUUID(),
      userId,
      name: 'Test device',
      kind: 'Desktop',
      platform: 'Windows',
      model: 'Surface',
      manufacturer: 'Microsoft',
      tokenHash: randomBytes(32).toString('hex'),
      createdAt: this.tick(),
      ...overrides,
    };
  }

  async device(userId: string, overrides: Partial<NewDevice> = {}): Promise<DeviceRecord> {
    const device = this.newDevice(userId, overrides);
    const stored = await this.store.createDevice(device);
    this.#tokenHashes.set(stored.id, device.tokenHash);
    return stored;
  }

  tokenHashOf(device: DeviceRecord): string {
    const hash = this.#tokenHashes.get(device.id);
    assert.ok(hash, `no token hash kept for ${device.id}`);
    return hash;
  }

  newCommand(device: Pick<DeviceRecord, 'id' | 'userId'>, overrides: Partial<NewCommand> = {}): NewCommand {
    const createdAt = overrides.createdAt ?? this.tick();
    return {
      id: this.commandIdAt(createdAt),
      userId: device.userId,
      deviceId: device.id,
      type: 'LaunchUri',
      payloadJson: '{"uri":"https://example.com/"}',
      appServiceName: null,
      packageFamilyName: null,
      permissionTicket: null,
      postBackUri: null,
      createdAt,
      expiresAt: createdAt + DAY,
      ...overrides,
    };
  }

  command(device: DeviceRecord, overrides: Partial<NewCommand> = {}, options?: CreateOptions): Promise<CreateResult> {
    return this.store.createCommand(this.newCommand(device, overrides), options);
  }

  /** one status change alone (a chain of one): its result, or undefined when it did not apply */
  async transition(change: StatusChange) {
    const result = await this.store.transitionChain([change]);
    assert.equal(result.applied.length + (result.refusedAt === undefined ? 0 : 1), 1);
    return result.applied[0];
  }

  /** a status change that must succeed */
  async move(command: CommandRecord, to: Status, extra: Partial<StatusChange> = {}) {
    const result = await this.transition({ commandId: command.id, from: command.status, to, at: this.tick(), ...extra });
    assert.ok(result, `${command.id} could not move from ${command.status} to ${to}`);
    return result;
  }
}
