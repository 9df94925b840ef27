import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, type ConnectOptions, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { openEvents } from '../lifecycle-e2e/helpers.js';

/**
 * DESIGN 9, command batches, against a real server with real SDK devices:
 * what the owner of a fleet sees through the HTTP API while one command
 * goes to many devices.
 */

const LAUNCH = { type: 'LaunchUri', payload: { uri: 'https://example.com/update' } };
const fast = { initialDelayMs: 10, maxDelayMs: 50 };

let appia: TestAppia;
const connections: DeviceConnection[] = [];

before(async () => {
  appia = await startTestAppia({ receiptTimeoutMs: 2000, retryBaseMs: 50, maxBatchDevices: 5 });
});
after(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await appia.stop();
});

/** a user of their own (so batches of `all` see only that user's devices) */
async function fleetOwner() {
  const token = await appia.token(`fleet-${randomUUID()}`);
  const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => appia.api(token, method, path, body, headers);
  return {
    token,
    api,
    async register(name: string, kind = 'Desktop'): Promise<{ id: string; deviceToken: string }> {
      const res = await api('POST', '/beta/me/devices', { name, kind, platform: 'Linux' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { id: res.body.id, deviceToken: res.body.deviceToken };
    },
    async batch(body: object, headers?: Record<string, string>) {
      const res = await api('POST', '/beta/me/commandBatches', body, headers);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res;
    },
    async commandsOf(deviceId: string): Promise<any[]> {
      return (await api('GET', `/beta/me/devices/${deviceId}/commands`)).body.value;
    },
  };
}

/** an SDK device that completes every LaunchUri it is sent (or runs `launch`) */
async function online(deviceToken: string, launch?: NonNullable<ConnectOptions['handlers']>['LaunchUri']): Promise<DeviceConnection> {
  const connection = await connect({
    url: appia.url,
    token: deviceToken,
    reconnect: fast,
    keepAliveMs: 0,
    handlers: { LaunchUri: launch ?? (async () => ({ opened: true })) },
  });
  connections.push(connection);
  return connection;
}

describe('command batches (DESIGN 9)', () => {
  test('a batch to all devices runs on the online ones at once and on an offline one when it connects; counts move with their reports', async () => {
    const owner = await fleetOwner();
    const devices = [await owner.register('a'), await owner.register('b'), await owner.register('c'), await owner.register('away')];
    for (const device of devices.slice(0, 3)) await online(device.deviceToken);
    const events = await openEvents(appia, owner.token, '/beta/me/events');
    try {
      const created = await owner.batch({ all: true, ...LAUNCH });
      const batch = created.body;
      assert.deepEqual([batch.total, batch.counts, batch.done], [4, { requesting: 4 }, false]);
      assert.match(batch.id, /^[0-9A-F]+$/);
      assert.equal(created.headers.get('location'), `${appia.url}/beta/me/commandBatches/${batch.id}`);

      // every change of a batch command is on the user's stream with its batchId, as it happens
      const completed = new Set<string>();
      for await (const event of events) {
        assert.equal(event.data.batchId, batch.id);
        if (event.data.status === 'completed') completed.add(event.data.deviceId);
        if (completed.size === 3) break;
      }
      assert.deepEqual([...completed].sort(), devices.slice(0, 3).map((d) => d.id).sort());
      const partway = (await owner.api('GET', `/beta/me/commandBatches/${batch.id}`)).body;
      assert.deepEqual([partway.total, partway.counts, partway.done], [4, { completed: 3, requesting: 1 }, false]);

      // each is an ordinary command on its device's list, carrying the batch id
      for (const device of devices) {
        const [command] = await owner.commandsOf(device.id);
        assert.deepEqual([command.batchId, command.deviceId], [batch.id, device.id]);
      }

      await online(devices[3]!.deviceToken);
      const waited = await owner.api('GET', `/beta/me/commandBatches/${batch.id}`, undefined, { prefer: 'wait=20' });
      assert.equal(waited.headers.get('preference-applied'), 'wait=20');
      assert.deepEqual([waited.body.counts, waited.body.done], [{ completed: 4 }, true]);
    } finally {
      events.close();
    }
  });

  test('kind narrows all to the devices of that form factor, read without regard to case', async () => {
    const owner = await fleetOwner();
    const phones = [await owner.register('p1', 'Phone'), await owner.register('p2', 'Phone')];
    const desktop = await owner.register('d1', 'Desktop');
    const { body } = await owner.batch({ all: true, kind: 'phone', ...LAUNCH });
    assert.equal(body.total, 2);
    for (const phone of phones) assert.equal((await owner.commandsOf(phone.id)).length, 1);
    assert.deepEqual(await owner.commandsOf(desktop.id), []);
  });

  test("a device id that is not the caller's makes the whole batch 404 and creates nothing", async () => {
    const owner = await fleetOwner();
    const stranger = await fleetOwner();
    const mine = await owner.register('mine');
    const theirs = await stranger.register('theirs');
    for (const other of [theirs.id, randomUUID(), 'not-a-device-id']) {
      const res = await owner.api('POST', '/beta/me/commandBatches', { deviceIds: [mine.id, other], ...LAUNCH });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'itemNotFound');
    }
    assert.deepEqual(await owner.commandsOf(mine.id), []);
    assert.deepEqual(await stranger.commandsOf(theirs.id), []);
    assert.deepEqual((await owner.api('GET', '/beta/me/commandBatches')).body.value, []);
  });

  test('Idempotency-Key replays the first batch; the same key for another request is 422', async () => {
    const owner = await fleetOwner();
    const devices = [await owner.register('a'), await owner.register('b')];
    const body = { deviceIds: devices.map((d) => d.id), ...LAUNCH };
    const first = await owner.batch(body, { 'idempotency-key': 'rollout-42' });
    // the ids in another order and case are the same selection
    const again = await owner.batch({ ...body, deviceIds: devices.map((d) => d.id.toUpperCase()).reverse() }, { 'idempotency-key': 'rollout-42' });
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    for (const device of devices) assert.equal((await owner.commandsOf(device.id)).length, 1);
    const other = await owner.api('POST', '/beta/me/commandBatches', { ...body, payload: { uri: 'https://example.com/other' } }, { 'idempotency-key': 'rollout-42' });
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'unprocessableEntity');
  });

  test('a batch over APPIA_MAX_BATCH_DEVICES is refused 413 naming the limit, and creates nothing', async () => {
    const owner = await fleetOwner();
    const devices = [];
    for (let i = 0; i < 6; i++) devices.push(await owner.register(`d${i}`));
    for (const body of [{ deviceIds: devices.map((d) => d.id) }, { all: true }]) {
      const res = await owner.api('POST', '/beta/me/commandBatches', { ...body, ...LAUNCH });
      assert.equal(res.status, 413, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'requestEntityTooLarge');
      assert.match(res.body.error.message, /at most 5 devices \(APPIA_MAX_BATCH_DEVICES\); this one names 6/);
    }
    for (const device of devices) assert.deepEqual(await owner.commandsOf(device.id), []);
    // five is allowed
    assert.equal((await owner.batch({ deviceIds: devices.slice(0, 5).map((d) => d.id), ...LAUNCH })).body.total, 5);
  });

  test('canceling a batch cancels what is still open: at once where undelivered, through the device where it runs', async () => {
    const owner = await fleetOwner();
    const [busy, away, quick] = [await owner.register('busy'), await owner.register('away'), await owner.register('quick')];
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    await online(busy.deviceToken, async (_command, ctx) => {
      started();
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }));
    });
    await online(quick.deviceToken);
    const { body: batch } = await owner.batch({ deviceIds: [busy.id, away.id, quick.id], ...LAUNCH });
    await running;
    const [done] = await owner.commandsOf(quick.id);
    await owner.api('GET', `/beta/me/devices/${quick.id}/commands/${done.id}`, undefined, { prefer: 'wait=10' });

    const canceled = await owner.api('POST', `/beta/me/commandBatches/${batch.id}/cancel`);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    assert.equal(canceled.body.counts.completed, 1, 'a final command stays as it is');
    const final = await owner.api('GET', `/beta/me/commandBatches/${batch.id}`, undefined, { prefer: 'wait=10' });
    assert.deepEqual([final.body.counts, final.body.done], [{ completed: 1, canceled: 2 }, true]);
    const [ran] = await owner.commandsOf(busy.id);
    const history = (await owner.api('GET', `/beta/me/devices/${busy.id}/commands/${ran.id}/history`)).body.value.map((h: any) => h.status);
    assert.deepEqual(history.slice(-3), ['cancel', 'cancelling', 'canceled']);
    // canceling again finds nothing open
    assert.deepEqual((await owner.api('POST', `/beta/me/commandBatches/${batch.id}/cancel`)).body.counts, { completed: 1, canceled: 2 });
  });

  test("a batch's commands are paged in the order made, filtered by status, and batches are listed newest first", async () => {
    const owner = await fleetOwner();
    const devices = [];
    for (let i = 0; i < 5; i++) devices.push(await owner.register(`d${i}`));
    const first = (await owner.batch({ all: true, ...LAUNCH })).body;
    const second = (await owner.batch({ deviceIds: [devices[0]!.id], ...LAUNCH })).body;
    const listed = (await owner.api('GET', '/beta/me/commandBatches?$top=1')).body;
    assert.deepEqual(listed.value.map((b: any) => b.id), [second.id]);
    const rest = await fetch(listed['@odata.nextLink'], { headers: { authorization: `Bearer ${owner.token}` } });
    assert.deepEqual(((await rest.json()) as any).value.map((b: any) => b.id), [first.id]);

    const seen: any[] = [];
    let url: string | undefined = `${appia.url}/beta/me/commandBatches/${first.id}/commands?$top=2`;
    while (url) {
      const page = (await (await fetch(url, { headers: { authorization: `Bearer ${owner.token}` } })).json()) as any;
      seen.push(...page.value);
      url = page['@odata.nextLink'];
    }
    assert.equal(seen.length, 5);
    assert.deepEqual(seen.map((c) => c.id), [...seen.map((c) => c.id)].sort());
    assert.deepEqual(seen.map((c) => c.deviceId).sort(), devices.map((d) => d.id).sort());
    const filtered = await owner.api('GET', `/beta/me/commandBatches/${first.id}/commands?$filter=status eq 'completed'`);
    assert.deepEqual(filtered.body.value, []);
    const bad = await owner.api('GET', `/beta/me/commandBatches/${first.id}/commands?$filter=name eq 'x'`);
    assert.equal(bad.status, 400);
  });

  test('bad input is 400 in Graph\'s shape and creates nothing', async () => {
    const owner = await fleetOwner();
    const device = await owner.register('d');
    const cases: [object, RegExp][] = [
      [{ ...LAUNCH }, /deviceIds .* or "all": true is required/],
      [{ deviceIds: [], ...LAUNCH }, /deviceIds is empty/],
      [{ deviceIds: [device.id], all: true, ...LAUNCH }, /not both/],
      [{ all: false, ...LAUNCH }, /all must be true/],
      [{ deviceIds: [device.id], kind: 'Phone', ...LAUNCH }, /kind narrows all/],
      [{ deviceIds: [device.id], type: 'Teleport', payload: { uri: 'https://x.test/' } }, /type must be LaunchUri or AppService/],
      [{ deviceIds: [device.id], type: 'LaunchUri', payload: { uri: 'relative/path' } }, /absolute URI/],
      [{ deviceIds: device.id, ...LAUNCH }, /deviceIds/],
    ];
    for (const [body, message] of cases) {
      const res = await owner.api('POST', '/beta/me/commandBatches', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.error.message, message);
      assert.equal(typeof res.body.error.innerError['request-id'], 'string');
    }
    assert.deepEqual(await owner.commandsOf(device.id), []);
    assert.equal((await owner.api('GET', '/beta/me/commandBatches/0123')).status, 404);
  });
});

describe('device queue purge (DESIGN 9)', () => {
  test("POST .../commands/cancel cancels every open command of one device, answers how many, and leaves other devices' queues alone", async () => {
    const owner = await fleetOwner();
    const [away, other] = [await owner.register('away'), await owner.register('other')];
    for (let i = 0; i < 3; i++) assert.equal((await owner.api('POST', `/beta/me/devices/${away.id}/commands`, LAUNCH)).status, 201);
    await owner.batch({ deviceIds: [away.id, other.id], ...LAUNCH });
    const purged = await owner.api('POST', `/beta/me/devices/${away.id}/commands/cancel`);
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    assert.deepEqual(purged.body, { canceled: 4 });
    assert.deepEqual((await owner.commandsOf(away.id)).map((c) => c.status), ['canceled', 'canceled', 'canceled', 'canceled']);
    assert.deepEqual((await owner.commandsOf(other.id)).map((c) => c.status), ['requesting']);
    assert.deepEqual((await owner.api('POST', `/beta/me/devices/${away.id}/commands/cancel`)).body, { canceled: 0 });
    const unknown = await owner.api('POST', `/beta/me/devices/${randomUUID()}/commands/cancel`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'itemNotFound');
  });
});
