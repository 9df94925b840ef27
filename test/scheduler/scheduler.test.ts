import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { subjects, type BusMessage } from '../../src/bus/bus.js';
import { InProcessBus } from '../../src/bus/in-process.js';
import type { CoreTimings } from '../../src/core/context.js';
import { CommandCore } from '../../src/core/core.js';
import type { DeviceSession } from '../../src/core/session.js';
import type { Status } from '../../src/domain/status.js';
import { startScheduler, type Scheduler } from '../../src/scheduler/scheduler.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/store.js';

/**
 * Two nodes share one store and one bus, each with its own command core and
 * scheduler, the way a cluster runs. The device is a real core session whose
 * connection takes every frame and never answers, so every timer runs out
 * for real.
 */
const timings: CoreTimings = {
  receiptTimeoutMs: 100,
  retryBaseMs: 20,
  maxAttempts: 3,
  cancelTimeoutMs: 100,
  defaultTtlMs: 60_000,
  maxOpenCommands: 0,
};
const log = pino({ level: 'silent' });

describe('scheduler: durable timers, fired once across nodes', () => {
  let store: SqliteStore;
  let bus: InProcessBus;
  let nodes: { core: CommandCore; scheduler: Scheduler }[];
  const user = `user-${randomUUID()}`;

  before(() => {
    store = openSqliteStore({ path: ':memory:' });
    bus = new InProcessBus();
    nodes = [1, 2].map(() => {
      const core = new CommandCore({ store, bus, timings, log });
      return { core, scheduler: startScheduler({ timers: core.timers, receiptTimeoutMs: timings.receiptTimeoutMs, log, options: { tickMs: 20, sweepMs: 100 } }) };
    });
  });
  after(async () => {
    for (const n of nodes) await n.scheduler.close();
    await store.close();
  });

  const core = () => nodes[0]!.core;

  async function device(): Promise<string> {
    const id = randomUUID();
    await store.createDevice({ id, userId: user, name: 'd', kind: null, platform: null, model: null, manufacturer: null, tokenHash: randomBytes(16).toString('hex'), createdAt: Date.now() });
    return id;
  }

  async function command(deviceId: string, expiresInMs?: number): Promise<string> {
    const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };
    const { command } = await core().createCommand(user, deviceId, expiresInMs === undefined ? input : { ...input, expiresAt: Date.now() + expiresInMs });
    return command.id;
  }

  interface SilentDevice {
    readonly delivers: string[];
    readonly cancels: string[];
    readonly session: DeviceSession;
    /** while true, the node holding the connection misses its wake-ups */
    deaf: boolean;
    /** stop listening, as if the connection's node lost it, without a disconnect */
    stop(): void;
  }

  /** a device connected on the second node: every command and cancel is written to it, and it never answers */
  async function silentDevice(deviceId: string, node = nodes[1]!.core): Promise<SilentDevice> {
    const record = (await store.getDevice(user, deviceId))!;
    let tail = Promise.resolve();
    /** true while a wake-up the node missed runs: it finds the connection gone and sends nothing */
    let missing = false;
    const device: SilentDevice = {
      delivers: [],
      cancels: [],
      deaf: false,
      session: node.openSession(
        record,
        {
          deliver: async (command) => (device.delivers.push(command.id), true),
          cancel: async (commandId) => (device.cancels.push(commandId), true),
          get open() {
            return !missing;
          },
          idle: true,
        },
        {
          schedule: (task) => {
            if (!device.deaf) tail = tail.then(task);
            else
              tail = tail.then(async () => {
                missing = true;
                await task().finally(() => void (missing = false));
              });
          },
          replaced: () => {},
          removed: () => {},
        },
      ),
      stop: () => device.session.supersede(),
    };
    await device.session.start();
    return device;
  }

  function until(commandId: string, status: Status, timeoutMs = 3_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.unsubscribe();
        reject(new Error(`${commandId} did not reach ${status}`));
      }, timeoutMs);
      const subscription = bus.subscribe(subjects.user(user), (m) => {
        if (m.kind === 'status' && m.commandId === commandId && m.status === status) {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve();
        }
      });
    });
  }

  const statuses = async (id: string) => (await store.listHistory(id)).map((h) => h.status);

  test('with no receipt, each attempt times out once and the last one ends failedToSend, though two schedulers watch it', async () => {
    const deviceId = await device();
    const gateway = await silentDevice(deviceId);
    try {
      const id = await command(deviceId);
      await until(id, 'failedToSend');
      assert.deepEqual(await statuses(id), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'retry', 'sentToTarget', 'retry', 'failedToSend']);
      const record = await store.getCommandById(id);
      assert.equal(record?.attempts, 3);
      // one wake-up at creation and one per retry: neither scheduler fired a retry timer the other had fired
      assert.equal(gateway.delivers.filter((d) => d === id).length, 3);
    } finally {
      gateway.stop();
    }
  });

  test('a retry whose device is away is parked without using an attempt, and sent once the device is back', async () => {
    const deviceId = await device();
    const gateway = await silentDevice(deviceId);
    const id = await command(deviceId);
    await until(id, 'sentToTarget');
    gateway.stop();
    // the device drops off before its receipt (its node never saw it go): the timeout records `retry`
    await store.setDevicePresence(deviceId, gateway.session.connectionId, 'Offline', Date.now());
    await until(id, 'retry');
    // its backoff passes with the device away: parked, no attempt used
    await waitFor(async () => (await store.getCommandById(id))?.dueAt === null);
    const parked = await store.getCommandById(id);
    assert.equal(parked?.status, 'retry');
    assert.equal(parked?.attempts, 1);

    // back online: the connection sends every open command
    const sent = until(id, 'sentToTarget');
    const back = await silentDevice(deviceId);
    try {
      await sent;
      assert.equal((await store.getCommandById(id))?.attempts, 2);
    } finally {
      back.stop();
    }
  });

  test('a lost wake-up only delays a command: the sweep wakes the node of a present device again', async () => {
    const deviceId = await device();
    const gateway = await silentDevice(deviceId);
    gateway.deaf = true;
    const id = await command(deviceId); // its node misses the `deliver`
    gateway.deaf = false;
    try {
      await until(id, 'sentToTarget');
      await waitFor(async () => gateway.delivers.length > 0);
      assert.deepEqual(gateway.delivers, [id]);
    } finally {
      gateway.stop();
    }
  });

  test('a command of an Offline device waits as requesting: no sweep, no timer, no attempt', async () => {
    const deviceId = await device(); // never connected: Offline
    // made a second ago (the core's clock seam), so the sweep would find it were its device present
    const earlier = new CommandCore({ store, bus, timings, log, now: () => Date.now() - 1_000 });
    const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };
    const id = (await earlier.createCommand(user, deviceId, input)).command.id; // its creation's wake-up finds no connection
    const wakeUps: BusMessage[] = [];
    const listening = bus.subscribe(subjects.device(deviceId), (m) => wakeUps.push(m));
    try {
      await Promise.all(nodes.map((n) => n.scheduler.sweep()));
      await Promise.all(nodes.map((n) => n.scheduler.runDue()));
      assert.deepEqual(wakeUps, []);
      assert.deepEqual(await statuses(id), ['requesting']);
    } finally {
      listening.unsubscribe();
    }
  });

  test('expiry fires once for a command waiting on an absent device', async () => {
    const deviceId = await device();
    const id = await command(deviceId, 150);
    await until(id, 'expired');
    assert.deepEqual(await statuses(id), ['requesting', 'expired']);
  });

  test('an unanswered cancel ends canceled once, by the cancel timeout', async () => {
    const deviceId = await device();
    const gateway = await silentDevice(deviceId);
    try {
      const id = await command(deviceId);
      await until(id, 'sentToTarget');
      const canceled = until(id, 'canceled');
      await core().cancelCommand(user, deviceId, id);
      await canceled;
      // the receipt timer of sentToTarget was replaced by the cancel's own: no retry in between
      assert.deepEqual(await statuses(id), ['requesting', 'sentToTarget', 'cancel', 'cancelling', 'canceled']);
      await waitFor(async () => gateway.cancels.length > 0);
      assert.deepEqual(gateway.cancels, [id]);
    } finally {
      gateway.stop();
    }
  });

  test('a cancel its node missed is asked for again when its timer comes due', async () => {
    const deviceId = await device();
    const gateway = await silentDevice(deviceId);
    const id = await command(deviceId);
    await until(id, 'sentToTarget');
    gateway.deaf = true; // the node holding the device misses the cancel message
    await core().cancelCommand(user, deviceId, id);
    gateway.deaf = false;
    try {
      await until(id, 'canceled');
      await waitFor(async () => gateway.cancels.length > 0);
      assert.deepEqual(gateway.cancels, [id]);
      assert.deepEqual(await statuses(id), ['requesting', 'sentToTarget', 'cancel', 'cancelling', 'canceled']);
    } finally {
      gateway.stop();
    }
  });

  test('with the cancel timeout off, an unheard cancel is still sent again when its re-send timer comes due', async () => {
    const off = { ...timings, receiptTimeoutMs: 60_000, cancelTimeoutMs: 0 };
    const quiet = new CommandCore({ store, bus, timings: off, log });
    const deviceId = await device();
    const gateway = await silentDevice(deviceId, quiet);
    const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };
    const created = await quiet.createCommand(user, deviceId, input);
    const id = created.command.id;
    // the device's connection is on this node and idle: the create itself records the command sent (the direct path)
    assert.equal(created.command.status, 'sentToTarget');
    await waitFor(async () => gateway.delivers.includes(id));
    gateway.deaf = true; // its node misses the cancel message
    await quiet.cancelCommand(user, deviceId, id);
    gateway.deaf = false;
    try {
      // DESIGN 8: 0 turns the cancel timeout off, not the re-send of an unheard cancel (30 s)
      const later = new CommandCore({ store, bus, timings: off, log, now: () => Date.now() + 31_000 });
      const cancelling = until(id, 'cancelling');
      await later.timers.runDue(100);
      await cancelling;
      await waitFor(async () => gateway.cancels.length > 0);
      assert.deepEqual(gateway.cancels, [id]);
      // and with no timeout, cancelling waits for the device's answer (or expiry)
      assert.equal((await store.getCommandById(id))?.dueAt, null);
    } finally {
      gateway.stop();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
