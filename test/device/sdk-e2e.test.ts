import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, DeviceAuthError, type ConnectOptions, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { latch, launch, ping, testUser, unreliableWebSocket, type TestUser } from './support.js';

/**
 * The device SDK against a real Appia server (DESIGN 3 and 4): what the
 * owner of a device sees through the HTTP API while the SDK runs commands.
 */

const fast = { initialDelayMs: 10, maxDelayMs: 50 };
/** short receipt timeout and retry backoff, so a lost receipt is retried within the test */
const settings = { receiptTimeoutMs: 400, retryBaseMs: 50 };

let appia: TestAppia;
let alice: TestUser;
const devices: DeviceConnection[] = [];

async function device(deviceToken: string, options: Partial<ConnectOptions> = {}): Promise<DeviceConnection> {
  const connection = await connect({ url: appia.url, token: deviceToken, reconnect: fast, keepAliveMs: 0, ...options });
  devices.push(connection);
  return connection;
}

before(async () => {
  appia = await startTestAppia(settings);
  alice = await testUser(appia, 'alice');
});
after(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await appia.stop();
});

describe('device SDK end to end: commands', () => {
  test('LaunchUri and AppService commands go requesting -> sentToTarget -> executing -> completed with the handler\'s answer', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token, 'laptop');
    const opened: string[] = [];
    await device(deviceToken, {
      handlers: { LaunchUri: async (command) => (opened.push(String(command.payload?.['uri'])), { opened: true }) },
      appServices: { ping: async (command) => ({ pong: true, payload: command.payload }) },
    });
    const launched = await alice.send(id, launch('https://example.com/a?b=1'));
    const pinged = await alice.send(id, ping({ n: 42 }));

    assert.equal((await alice.final(id, launched.id)).status, 'completed');
    const done = await alice.final(id, pinged.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.responsePayload, { pong: true, payload: { n: 42 } });
    const answer = await alice.responsePayload(id, pinged.id);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.pong, true);
    assert.deepEqual(answer.body.payload, { n: 42 });
    assert.deepEqual(opened, ['https://example.com/a?b=1']);
    for (const command of [launched, pinged]) {
      assert.deepEqual(await alice.history(id, command.id), ['requesting', 'sentToTarget', 'executing', 'completed']);
    }
  });

  test('a handler that throws ends the command executionFailed with its message', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    await device(deviceToken, {
      appServices: {
        ping: async () => {
          throw new Error('the printer is on fire');
        },
      },
    });
    const failed = await alice.final(id, (await alice.send(id, ping())).id);
    assert.equal(failed.status, 'executionFailed');
    assert.equal(failed.error, 'the printer is on fire');
    assert.deepEqual(await alice.history(id, failed.id), ['requesting', 'sentToTarget', 'executing', 'executionFailed']);
  });

  test('progress shows as status custom with its customStatus, then the command completes', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const progressed = latch<boolean>();
    const finish = latch();
    await device(deviceToken, {
      appServices: {
        ping: async (_command, ctx) => {
          progressed.resolve(await ctx.progress('copied 3 of 7 files'));
          await finish.promise;
          return { copied: 7 };
        },
      },
    });
    const command = await alice.send(id, ping());
    assert.equal(await progressed.promise, true, 'the server recorded the progress');
    const midway = await alice.get(id, command.id);
    assert.equal(midway.status, 'custom');
    assert.equal(midway.customStatus, 'copied 3 of 7 files');
    finish.resolve();
    assert.deepEqual((await alice.final(id, command.id)).responsePayload, { copied: 7 });
  });

  test('an offline device receives its queued commands when it connects, in the order they were created', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const created = [];
    for (let i = 1; i <= 4; i++) created.push(await alice.send(id, ping({ i })));
    assert.ok(created.every((c) => c.status === 'requesting'));
    const order: number[] = [];
    await device(deviceToken, { appServices: { ping: async (command) => (order.push(Number(command.payload?.['i'])), {}) } });
    for (const c of created) assert.equal((await alice.final(id, c.id)).status, 'completed');
    assert.deepEqual(order, [1, 2, 3, 4]);
  });

  test('a command canceled while the handler runs: the handler\'s signal is aborted and the command ends canceled', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const running = latch();
    await device(deviceToken, {
      appServices: {
        ping: async (_command, ctx) => {
          await ctx.progress('waiting for the user');
          running.resolve();
          await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        },
      },
    });
    const command = await alice.send(id, ping());
    await running.promise;
    const asked = await appia.api(alice.token, 'POST', `/beta/me/devices/${id}/commands/${command.id}/cancel`);
    assert.equal(asked.status, 200);
    const done = await alice.final(id, command.id);
    assert.equal(done.status, 'canceled');
    assert.deepEqual((await alice.history(id, command.id)).slice(-3), ['cancel', 'cancelling', 'canceled']);
  });
});

describe('device SDK end to end: lost frames, reconnects and restarts', () => {
  test('when the connection drops as the result is sent, the result is delivered after the reconnect and the handler ran once', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    let runs = 0;
    let cut = false;
    const reconnected = latch();
    const connection = await device(deviceToken, {
      appServices: { ping: async () => ({ run: ++runs }) },
      WebSocket: unreliableWebSocket((frame) => {
        if (frame.t === 'completed' && !cut) {
          cut = true;
          return 'cut';
        }
        return 'send';
      }),
    });
    void (async () => {
      for await (const s of connection.status()) if (s.type === 'connected' && s.reconnect) reconnected.resolve();
    })();
    const command = await alice.send(id, ping());
    await reconnected.promise;
    const done = await alice.final(id, command.id);
    assert.equal(cut, true);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.responsePayload, { run: 1 });
    assert.equal(runs, 1);
    assert.equal((await alice.responsePayload(id, command.id)).body.run, 1);
  });

  test('when the receipt is lost, the server delivers the command again and the SDK does not run it twice', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    let runs = 0;
    let deliveries = 0;
    let lost = false;
    const redelivered = latch();
    const finish = latch();
    await device(deviceToken, {
      appServices: {
        ping: async () => {
          runs++;
          await finish.promise;
          return { ok: true };
        },
      },
      WebSocket: unreliableWebSocket(
        (frame) => {
          if (frame.t === 'received' && !lost) {
            lost = true;
            return 'lose';
          }
          return 'send';
        },
        (frame) => {
          if (frame.t === 'command' && ++deliveries === 2) redelivered.resolve();
        },
      ),
    });
    const command = await alice.send(id, ping());
    await redelivered.promise; // after the receipt timeout, as a retry
    finish.resolve();
    const done = await alice.final(id, command.id);
    assert.equal(done.status, 'completed');
    assert.equal(runs, 1);
    const history = await alice.history(id, command.id);
    assert.deepEqual(history, ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing', 'completed']);
  });

  test('when the server restarts while a handler runs, the result is stored after the device reconnects', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'appia-restart-'));
    let server = await startTestAppia(settings, { dataDir });
    let connection: DeviceConnection | undefined;
    try {
      const bob = await testUser(server, 'bob');
      const { id, deviceToken } = await server.addDevice(bob.token);
      let runs = 0;
      const working = latch();
      const finish = latch();
      connection = await connect({
        url: server.url,
        token: deviceToken,
        reconnect: fast,
        keepAliveMs: 0,
        appServices: {
          ping: async (_command, ctx) => {
            runs++;
            await ctx.progress('working');
            working.resolve();
            await finish.promise;
            return { survived: 'a restart' };
          },
        },
      });
      const command = await bob.send(id, ping());
      await working.promise;
      const port = server.port;
      await server.stop({ keepData: true });
      finish.resolve(); // the result is made while the server is down
      server = await startTestAppia({ ...settings, port }, { dataDir });
      const restarted = await testUser(server, 'bob');
      const done = await restarted.final(id, command.id);
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.responsePayload, { survived: 'a restart' });
      assert.equal(runs, 1);
      assert.deepEqual(await restarted.history(id, command.id), ['requesting', 'sentToTarget', 'executing', 'custom', 'completed']);
    } finally {
      await connection?.close();
      await server.stop({ keepData: true });
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('device SDK end to end: owners, standby, tokens', () => {
  test('two users\' devices receive only their own owner\'s commands', async () => {
    const bob = await testUser(appia, 'bob');
    const aliceDevice = await appia.addDevice(alice.token, 'alice phone');
    const bobDevice = await appia.addDevice(bob.token, 'bob phone');
    const seen = { alice: [] as unknown[], bob: [] as unknown[] };
    await device(aliceDevice.deviceToken, { appServices: { ping: async (c) => (seen.alice.push(c.payload?.['from']), {}) } });
    await device(bobDevice.deviceToken, { appServices: { ping: async (c) => (seen.bob.push(c.payload?.['from']), {}) } });

    const intrusion = await appia.api(bob.token, 'POST', `/beta/me/devices/${aliceDevice.id}/commands`, ping({ from: 'bob' }));
    assert.equal(intrusion.status, 404);
    const a = await alice.send(aliceDevice.id, ping({ from: 'alice' }));
    const b = await bob.send(bobDevice.id, ping({ from: 'bob' }));
    assert.equal((await alice.final(aliceDevice.id, a.id)).status, 'completed');
    assert.equal((await bob.final(bobDevice.id, b.id)).status, 'completed');
    assert.deepEqual(seen, { alice: ['alice'], bob: ['bob'] });
    assert.equal((await appia.api(bob.token, 'GET', `/beta/me/devices/${aliceDevice.id}/commands/${a.id}`)).status, 404);
  });

  test('in standby the device shows Standby and a new command ends commandDropped; back to active it runs again', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    let runs = 0;
    const connection = await device(deviceToken, { appServices: { ping: async () => (runs++, {}) } });
    // The server handles the connect work before any frame: once this state report is acked, the device is stored Online.
    await connection.standby(false);
    assert.equal((await appia.api(alice.token, 'GET', `/beta/me/devices/${id}`)).body.status, 'Online');
    await connection.standby(true);
    assert.equal((await appia.api(alice.token, 'GET', `/beta/me/devices/${id}`)).body.status, 'Standby');
    const dropped = await alice.final(id, (await alice.send(id, ping())).id);
    assert.equal(dropped.status, 'commandDropped');
    await connection.standby(false);
    assert.equal((await appia.api(alice.token, 'GET', `/beta/me/devices/${id}`)).body.status, 'Online');
    assert.equal((await alice.final(id, (await alice.send(id, ping())).id)).status, 'completed');
    assert.equal(runs, 1);
  });

  test('a wrong device token is refused at connect; removing a connected device closes its SDK connection with the same error', async () => {
    await assert.rejects(connect({ url: appia.url, token: 'not-a-real-token', reconnect: fast }), DeviceAuthError);
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const connection = await device(deviceToken);
    const removed = await appia.api(alice.token, 'DELETE', `/beta/me/devices/${id}`);
    assert.equal(removed.status, 204);
    assert.ok((await connection.closed()) instanceof DeviceAuthError);
  });

  test('the token may also be sent as the appia.v1 subprotocol', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    await device(deviceToken, { auth: 'subprotocol', appServices: { ping: async () => ({ via: 'subprotocol' }) } });
    assert.deepEqual((await alice.final(id, (await alice.send(id, ping())).id)).responsePayload, { via: 'subprotocol' });
  });
});
