import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { subjects, type BusMessage } from '../../src/bus/bus.js';
import { InProcessBus } from '../../src/bus/in-process.js';
import type { Status } from '../../src/domain/status.js';
import { startScheduler, type Scheduler } from '../../src/scheduler/scheduler.js';
import { Engine, type EngineTimings } from '../../src/service/engine.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/store.js';

/**
 * Two nodes share one store and one bus, each with its own Engine and
 * Scheduler, the way a cluster runs. A small stand-in for the gateway
 * records an attempt for every `deliver` it hears, as the real one does, but
 * never hears back from a device, so every timer runs out for real.
 */
const timings: EngineTimings = {
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
  let nodes: { engine: Engine; scheduler: Scheduler }[];
  const user = `user-${randomUUID()}`;

  before(() => {
    store = openSqliteStore({ path: ':memory:' });
    bus = new InProcessBus();
    nodes = [1, 2].map(() => {
      const engine = new Engine({ store, bus, timings });
      return { engine, scheduler: startScheduler({ engine, config: timings, log, options: { tickMs: 20, sweepMs: 100 } }) };
    });
  });
  after(async () => {
    for (const n of nodes) await n.scheduler.close();
    await store.close();
  });

  const engine = () => nodes[0]!.engine;

  async function device(presence: 'Online' | 'Offline' = 'Online'): Promise<string> {
    const id = randomUUID();
    await store.createDevice({ id, userId: user, name: 'd', kind: null, platform: null, model: null, manufacturer: null, tokenHash: randomBytes(16).toString('hex'), createdAt: Date.now() });
    if (presence === 'Online') await store.setDevicePresence(id, 'Online', Date.now());
    return id;
  }

  async function command(deviceId: string, expiresInMs?: number): Promise<string> {
    const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };
    const { command } = await engine().createCommand(user, deviceId, expiresInMs === undefined ? input : { ...input, expiresAt: Date.now() + expiresInMs });
    return command.id;
  }

  /** a gateway stand-in on the device's node: each `deliver` is an attempt written to a device that never answers */
  function silentGateway(deviceId: string): { delivers: string[]; cancels: string[]; stop(): void } {
    const delivers: string[] = [];
    const cancels: string[] = [];
    const subscription = bus.subscribe(subjects.device(deviceId), (m: BusMessage) => {
      if (m.kind === 'deliver') {
        delivers.push(m.commandId);
        void engine().apply(m.commandId, 'sent');
      } else if (m.kind === 'cancel') {
        cancels.push(m.commandId);
        void engine().apply(m.commandId, 'cancelSent');
      }
    });
    return { delivers, cancels, stop: () => subscription.unsubscribe() };
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
    const gateway = silentGateway(deviceId);
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

  test('a retry whose device is away is parked without using an attempt, and the sweep sends it once the device is back', async () => {
    const deviceId = await device();
    const gateway = silentGateway(deviceId);
    const id = await command(deviceId);
    await until(id, 'sentToTarget');
    gateway.stop();
    // the device drops off before its receipt: the timeout records `retry`
    await store.setDevicePresence(deviceId, 'Offline', Date.now());
    await until(id, 'retry');
    // its backoff passes with the device away: parked, no attempt used
    await waitFor(async () => (await store.getCommandById(id))?.dueAt === null);
    const parked = await store.getCommandById(id);
    assert.equal(parked?.status, 'retry');
    assert.equal(parked?.attempts, 1);

    // back online (the sweep stands in for the gateway's own resend on connect)
    const back = silentGateway(deviceId);
    try {
      await store.setDevicePresence(deviceId, 'Online', Date.now());
      await until(id, 'sentToTarget');
      assert.equal((await store.getCommandById(id))?.attempts, 2);
    } finally {
      back.stop();
    }
  });

  test('a lost wake-up only delays a command: the sweep wakes the node of a present device again', async () => {
    const deviceId = await device();
    const id = await command(deviceId); // no gateway listens: the `deliver` is lost
    const gateway = silentGateway(deviceId);
    try {
      await until(id, 'sentToTarget');
      assert.ok(gateway.delivers.includes(id));
    } finally {
      gateway.stop();
    }
  });

  test('a command of an Offline device waits as requesting: no sweep, no timer, no attempt', async () => {
    const deviceId = await device('Offline');
    // made a second ago (the engine's clock seam), so the sweep would find it were its device present
    const earlier = new Engine({ store, bus, timings, now: () => Date.now() - 1_000 });
    const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };
    const id = (await earlier.createCommand(user, deviceId, input)).command.id; // its creation's wake-up finds no connection
    const gateway = silentGateway(deviceId);
    try {
      await Promise.all(nodes.map((n) => n.scheduler.sweep()));
      await Promise.all(nodes.map((n) => n.scheduler.runDue()));
      assert.deepEqual(gateway.delivers, []);
      assert.deepEqual(await statuses(id), ['requesting']);
    } finally {
      gateway.stop();
    }
  });

  test('expiry fires once for a command waiting on an absent device', async () => {
    const deviceId = await device('Offline');
    const id = await command(deviceId, 150);
    await until(id, 'expired');
    assert.deepEqual(await statuses(id), ['requesting', 'expired']);
  });

  test('an unanswered cancel ends canceled once, by the cancel timeout', async () => {
    const deviceId = await device();
    const gateway = silentGateway(deviceId);
    try {
      const id = await command(deviceId);
      await until(id, 'sentToTarget');
      const canceled = until(id, 'canceled');
      await engine().cancel(user, deviceId, id);
      await canceled;
      // the receipt timer of sentToTarget was replaced by the cancel's own: no retry in between
      assert.deepEqual(await statuses(id), ['requesting', 'sentToTarget', 'cancel', 'cancelling', 'canceled']);
      assert.deepEqual(gateway.cancels, [id]);
    } finally {
      gateway.stop();
    }
  });

  test('a cancel its node missed is asked for again when its timer comes due', async () => {
    const deviceId = await device();
    const gateway = silentGateway(deviceId);
    const id = await command(deviceId);
    await until(id, 'sentToTarget');
    gateway.stop(); // the node holding the device misses the cancel message
    await engine().cancel(user, deviceId, id);
    const again = silentGateway(deviceId);
    try {
      await until(id, 'canceled');
      assert.deepEqual(again.cancels, [id]);
      assert.deepEqual(await statuses(id), ['requesting', 'sentToTarget', 'cancel', 'cancelling', 'canceled']);
    } finally {
      again.stop();
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
