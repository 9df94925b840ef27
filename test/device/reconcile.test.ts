import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ConnectOptions, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { latch, ping, testUser, unreliableWebSocket, type TestUser } from './support.js';

/**
 * DESIGN 4, reconnect reconciliation and graceful stop, with the real SDK
 * against a real server: a command the record shows `executing` or
 * `custom` is sent again, marked resumed, on every reconnect; a device that
 * still runs it carries on, one that lost it says so; a device stopping
 * gracefully gives its handlers a grace period, then reports them failed.
 */

const fast = { initialDelayMs: 10, maxDelayMs: 50 };
let appia: TestAppia;
let alice: TestUser;
const devices: DeviceConnection[] = [];

async function device(deviceToken: string, options: Partial<ConnectOptions> = {}): Promise<DeviceConnection> {
  const connection = await connect({ url: appia.url, token: deviceToken, reconnect: fast, keepAliveMs: 0, ...options });
  devices.push(connection);
  return connection;
}

async function untilStatus(deviceId: string, commandId: string, status: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await alice.get(deviceId, commandId)).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${commandId} never reached ${status}`);
}

before(async () => {
  appia = await startTestAppia({ pingIntervalMs: 0 });
  alice = await testUser(appia, 'alice');
});
after(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await appia.stop();
});

describe('reconnect reconciliation', () => {
  test('a command the device was running when its program died ends executionFailed "lost by the device" when it comes back', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const started = latch();
    const first = await device(deviceToken, { appServices: { ping: () => (started.resolve(), new Promise(() => {})) } });
    const command = await alice.send(id, ping());
    await started.promise;
    await untilStatus(id, command.id, 'executing');
    // the program dies: its connection closes, its memory of the command is gone
    await first.close();

    let ran = 0;
    await device(deviceToken, { appServices: { ping: async () => ({ ran: ++ran }) } });
    const done = await alice.final(id, command.id);
    assert.equal(done.status, 'executionFailed');
    assert.equal(done.error, 'lost by the device');
    assert.equal(ran, 0, 'a resumed command the device does not know is not run again');
    assert.deepEqual(await alice.history(id, command.id), ['requesting', 'sentToTarget', 'executing', 'executionFailed']);
  });

  test('a device still running a command when its connection drops carries on after the reconnect, and it runs once', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const release = latch();
    const resumedSeen = latch();
    let runs = 0;
    let cut = false;
    const connection = await device(deviceToken, {
      appServices: {
        ping: async (_command, ctx) => {
          runs++;
          await ctx.progress('halfway');
          await release.promise;
          return { runs };
        },
      },
      WebSocket: unreliableWebSocket(
        (frame) => {
          // the connection drops as the progress report goes out
          if (frame.t === 'progress' && !cut) {
            cut = true;
            return 'cut';
          }
          return 'send';
        },
        (frame) => {
          if (frame.t === 'command' && frame['resumed'] === true) resumedSeen.resolve();
        },
      ),
    });
    const command = await alice.send(id, ping());
    await resumedSeen.promise;
    await untilStatus(id, command.id, 'custom');
    release.resolve();
    const done = await alice.final(id, command.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.responsePayload, { runs: 1 });
    assert.equal(runs, 1);
    assert.equal(connection.isConnected, true);
  });
});

describe('graceful stop', () => {
  test('drain lets a short handler finish and gives a long one its grace period, then reports it failed "the device stopped"', async () => {
    const { id, deviceToken } = await appia.addDevice(alice.token);
    const quickRunning = latch();
    const slowRunning = latch();
    let slowSignal: AbortSignal | undefined;
    const connection = await device(deviceToken, {
      appServices: {
        quick: async () => {
          quickRunning.resolve();
          await new Promise((resolve) => setTimeout(resolve, 50));
          return { quick: true };
        },
        slow: async (_command, ctx) => {
          slowSignal = ctx.signal;
          slowRunning.resolve();
          await new Promise(() => {});
        },
      },
    });
    const slow = await alice.send(id, { ...ping(), appServiceName: 'slow' });
    await slowRunning.promise;
    const quick = await alice.send(id, { ...ping(), appServiceName: 'quick' });
    await quickRunning.promise;
    await connection.drain({ timeoutMs: 300 });
    assert.equal(await connection.closed(), undefined);
    assert.equal(slowSignal?.aborted, true, 'the handler given up on sees its signal aborted');
    const quickDone = await alice.final(id, quick.id);
    assert.equal(quickDone.status, 'completed');
    const slowDone = await alice.final(id, slow.id);
    assert.equal(slowDone.status, 'executionFailed');
    assert.equal(slowDone.error, 'the device stopped');
  });
});
