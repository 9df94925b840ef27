import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { subjects } from '../../src/bus/bus.js';
import { InProcessBus } from '../../src/bus/in-process.js';
import type { CoreTimings } from '../../src/core/context.js';
import { CommandCore } from '../../src/core/core.js';
import type { DeviceSession } from '../../src/core/session.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/store.js';

/**
 * The direct path (docs/decisions.md, "Speed: the direct path"): a command
 * for an idle connection of this node is recorded sent in its create's
 * transaction and written at once; every other case takes the connection's
 * queue, and no command passes an older one that is on its way. A real core
 * session with a connection that records what it is given, in order.
 */
const timings: CoreTimings = { receiptTimeoutMs: 60_000, retryBaseMs: 20, maxAttempts: 3, cancelTimeoutMs: 60_000, defaultTtlMs: 60_000, maxOpenCommands: 0 };
const log = pino({ level: 'silent' });
const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };

interface Connection {
  readonly written: string[];
  readonly session: DeviceSession;
  /** while false, the connection's wake-ups find it closed and send nothing (its node missed them) */
  hearing: boolean;
  idle: boolean;
}

describe('the direct path keeps the queued path\'s guarantees', () => {
  let store: SqliteStore;
  let bus: InProcessBus;
  let core: CommandCore;
  const user = `user-${randomUUID()}`;

  before(() => {
    store = openSqliteStore({ path: ':memory:' });
    bus = new InProcessBus();
    core = new CommandCore({ store, bus, timings, log });
  });
  after(() => store.close());

  async function device(): Promise<string> {
    const id = randomUUID();
    await store.createDevice({ id, userId: user, name: 'd', kind: null, platform: null, model: null, manufacturer: null, tokenHash: randomBytes(16).toString('hex'), createdAt: Date.now() });
    return id;
  }

  async function connect(deviceId: string): Promise<{ connection: Connection; settled: () => Promise<void> }> {
    let tail = Promise.resolve();
    let missing = false;
    const record = (await store.getDevice(user, deviceId))!;
    const connection: Connection = {
      written: [],
      hearing: true,
      idle: true,
      session: core.openSession(
        record,
        {
          deliver: async (command) => (connection.written.push(command.id), true),
          cancel: async () => true,
          get open() {
            return !missing;
          },
          get idle() {
            return connection.idle;
          },
        },
        {
          schedule: (task) => {
            const heard = connection.hearing;
            tail = tail.then(async () => {
              missing = !heard;
              await task().finally(() => void (missing = false));
            });
          },
          replaced: () => {},
          removed: () => {},
        },
      ),
    };
    await connection.session.start();
    return { connection, settled: () => tail };
  }

  const create = async (deviceId: string) => (await core.createCommand(user, deviceId, input)).command;
  const statuses = async (id: string) => (await store.listHistory(id)).map((h) => h.status);

  test('a command for an idle connection is stored sent and written at once; one for a busy connection is queued behind it', async () => {
    const deviceId = await device();
    const { connection, settled } = await connect(deviceId);
    const direct = await create(deviceId);
    assert.equal(direct.status, 'sentToTarget');
    assert.deepEqual(connection.written, [direct.id]);
    connection.idle = false; // its socket has not drained: the next one goes through the queue
    const queued = await create(deviceId);
    assert.equal(queued.status, 'requesting');
    await settled();
    assert.deepEqual(connection.written, [direct.id, queued.id]);
    assert.deepEqual(await statuses(queued.id), ['requesting', 'sentToTarget']);
  });

  test('a device that connected again elsewhere gets the command through the queued path, not the old connection', async () => {
    const deviceId = await device();
    const { connection } = await connect(deviceId);
    // the device's newer connection, on another node whose "connected" message this node has not heard
    await store.connectDevice(deviceId, 'a connection on another node', Date.now());
    const woken: string[] = [];
    const listening = bus.subscribe(subjects.device(deviceId), (m) => void (m.kind === 'deliver' && woken.push(m.commandId)));
    connection.hearing = false; // and this node's old connection is not the one to send it
    try {
      const command = await create(deviceId);
      assert.equal(command.status, 'requesting', 'not recorded sent to a connection that is no longer the device\'s');
      assert.deepEqual(connection.written, []);
      assert.deepEqual(woken, [command.id], 'the node holding the device is woken to send it');
    } finally {
      listening.unsubscribe();
    }
  });

  test('a wake-up that comes while a direct command is being stored is written first', async () => {
    const deviceId = await device();
    const { connection, settled } = await connect(deviceId);
    // an older command whose wake-up this node missed: it waits as requesting (the sweep or a timer wakes it again)
    connection.hearing = false;
    connection.idle = false;
    const older = await create(deviceId);
    await settled();
    assert.deepEqual(connection.written, []);
    connection.hearing = true;
    connection.idle = true;
    // a newer command takes the direct path; before its commit returns, the older one's wake-up comes again
    const newer = create(deviceId);
    bus.publish(subjects.device(deviceId), { kind: 'deliver', deviceId, commandId: older.id });
    assert.equal((await newer).status, 'sentToTarget');
    await settled();
    assert.deepEqual(connection.written, [older.id, (await newer).id]);
  });
});
