import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/device/index.js';
import type { TestSettings } from '../support/appia.js';
import { openEvents, world, type SseEvent, type World } from './helpers.js';

describe('Prefer: wait on POST and GET of a command', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(() => w.stop());

  test('POST with Prefer: wait answers once the command is final, with its answer', async () => {
    const device = await w.device();
    const sdk = await connect({ url: w.appia.url, token: device.deviceToken, reconnect: false, appServices: { echo: async (c) => ({ echo: c.payload }) } });
    try {
      const res = await w.appia.api(
        w.token,
        'POST',
        `/beta/me/devices/${device.id}/commands`,
        { type: 'AppService', appServiceName: 'echo', packageFamilyName: 'Contoso.Echo_1', payload: { say: 'hi' } },
        { prefer: 'wait=10' },
      );
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('preference-applied'), 'wait=10');
      assert.equal(res.body.status, 'completed');
      assert.deepEqual(res.body.responsePayload, { echo: { say: 'hi' } });
    } finally {
      await sdk.close();
    }
  });

  test('POST with Prefer: wait=1 for an offline device answers after the second, as the command stands', async () => {
    const device = await w.device();
    const started = Date.now();
    const res = await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://e.test/' } }, { prefer: 'wait=1' });
    const took = Date.now() - started;
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('preference-applied'), 'wait=1');
    assert.equal(res.body.status, 'requesting');
    assert.ok(took >= 950, `answered after ${took} ms`);
  });

  test('GET with Prefer: wait answers as soon as the command becomes final', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    const waiting = w.appia.api(w.token, 'GET', `/beta/me/devices/${device.id}/commands/${id}`, undefined, { prefer: 'wait=20' });
    await raw.acked({ t: 'received', id });
    await raw.acked({ t: 'completed', id, responsePayload: { ok: 1 } });
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('preference-applied'), 'wait=20');
    assert.equal(res.body.status, 'completed');
  });

  test('without Prefer there is no Preference-Applied, and a final command answers at once', async () => {
    const device = await w.device();
    const { id } = await w.create(device.id);
    await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands/${id}/cancel`);
    const plain = await w.appia.api(w.token, 'GET', `/beta/me/devices/${device.id}/commands/${id}`);
    assert.equal(plain.headers.get('preference-applied'), null);
    const waited = await w.appia.api(w.token, 'GET', `/beta/me/devices/${device.id}/commands/${id}`, undefined, { prefer: 'wait=30' });
    assert.equal(waited.body.status, 'canceled');
  });
});

describe('Server-Sent Events: live status of one command and of all my commands', () => {
  let w: World;
  before(async () => {
    w = await world({ sseHeartbeatMs: 100 } as TestSettings);
  });
  after(() => w.stop());

  const commandEvents = (deviceId: string, id: string, headers?: Record<string, string>) =>
    openEvents(w.appia, w.token, `/beta/me/devices/${deviceId}/commands/${id}/events`, headers);

  async function drain(stream: { next(ms?: number): Promise<SseEvent | undefined> }): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (let e = await stream.next(); e; e = await stream.next()) events.push(e);
    return events;
  }

  test("a command's stream replays its history, then shows each change as it happens, and ends after the final one", async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    const stream = await commandEvents(device.id, id);
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(stream.headers.get('request-id'));

    const first = [await stream.next(), await stream.next()];
    assert.deepEqual(first.map((e) => e?.data.status), ['requesting', 'sentToTarget']);
    await raw.acked({ t: 'received', id });
    assert.equal((await stream.next())?.data.status, 'executing');
    await raw.acked({ t: 'progress', id, customStatus: 'half way' });
    const progress = await stream.next();
    assert.equal(progress?.data.status, 'custom');
    assert.equal(progress?.data.detail, 'half way');
    await raw.acked({ t: 'completed', id, responsePayload: {} });
    const rest = await drain(stream); // ends by itself after the final status
    assert.deepEqual(rest.map((e) => e.data.status), ['completed']);

    const all = [...first, progress, ...rest] as SseEvent[];
    for (const e of all) {
      assert.equal(e.event, 'status');
      assert.equal(e.data.commandId, id);
      assert.equal(e.data.deviceId, device.id);
      assert.ok(!Number.isNaN(Date.parse(e.data.dateTime)));
    }
    const ids = all.map((e) => Number(e.id));
    assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'event ids increase');
  });

  test("Last-Event-ID resumes a command's stream after that event; after its final event there is nothing more (204)", async () => {
    const device = await w.device();
    const { id } = await w.create(device.id);
    await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands/${id}/cancel`);
    const full = await drain(await commandEvents(device.id, id));
    assert.deepEqual(full.map((e) => e.data.status), ['requesting', 'cancel', 'canceled']);

    const resumed = await drain(await commandEvents(device.id, id, { 'last-event-id': full[0]!.id! }));
    assert.deepEqual(resumed.map((e) => e.id), full.slice(1).map((e) => e.id));
    const finished = await commandEvents(device.id, id, { 'last-event-id': full[2]!.id! });
    assert.equal(finished.status, 204);
  });

  test('/me/events shows every change of my commands from now, and resumes from Last-Event-ID without gaps or repeats', async () => {
    const device = await w.device();
    const before = await w.create(device.id); // made before the stream opened: not shown
    const stream = await openEvents(w.appia, w.token, '/beta/me/events');
    assert.equal(stream.status, 200);
    const a = await w.create(device.id);
    const first = await stream.next();
    assert.equal(first?.data.commandId, a.id);
    assert.equal(first?.data.status, 'requesting');
    assert.equal(first?.data.deviceId, device.id);
    stream.close();

    // while no one listens: a is canceled, b is created
    await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands/${a.id}/cancel`);
    const b = await w.create(device.id);

    const resumed = await openEvents(w.appia, w.token, '/beta/me/events', { 'last-event-id': first!.id! });
    const missed = [await resumed.next(), await resumed.next(), await resumed.next()].map((e) => `${e?.data.commandId === a.id ? 'a' : e?.data.commandId === b.id ? 'b' : '?'} ${e?.data.status}`);
    assert.deepEqual(missed, ['a cancel', 'a canceled', 'b requesting']);
    // then live again
    await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands/${b.id}/cancel`);
    assert.equal((await resumed.next())?.data.status, 'cancel');
    assert.equal((await resumed.next())?.data.status, 'canceled');
    resumed.close();
    assert.notEqual(before.id, a.id);
  });

  test("/me/events never shows another user's commands", async () => {
    const otherToken = await w.appia.token('someone-else');
    const mine = await openEvents(w.appia, w.token, '/beta/me/events');
    const { id: otherDevice } = await w.appia.addDevice(otherToken, 'theirs');
    await w.appia.api(otherToken, 'POST', `/beta/me/devices/${otherDevice}/commands`, { type: 'LaunchUri', payload: { uri: 'https://e.test/' } });
    const device = await w.device();
    const { id } = await w.create(device.id);
    const seen = await mine.next();
    assert.equal(seen?.data.commandId, id);
    mine.close();
  });

  test('an idle stream sends heartbeat comments', async () => {
    const stream = await openEvents(w.appia, w.token, '/beta/me/events');
    await assert.rejects(stream.next(350)); // no events, only comments
    assert.ok(stream.comments.filter((c) => c === 'keep-alive').length >= 2, JSON.stringify(stream.comments));
    stream.close();
  });

  test("another user's command stream is a 404, a bad Last-Event-ID a 400, and a token without Device.Command a 403", async () => {
    const device = await w.device();
    const { id } = await w.create(device.id);
    const stranger = await w.appia.token('stranger');
    const hidden = await w.appia.api(stranger, 'GET', `/beta/me/devices/${device.id}/commands/${id}/events`);
    assert.equal(hidden.status, 404);
    assert.equal(hidden.body.error.code, 'itemNotFound');
    const bad = await w.appia.api(w.token, 'GET', `/beta/me/events`, undefined, { 'last-event-id': 'yesterday' });
    assert.equal(bad.status, 400);
    const readOnly = await w.appia.token('lifecycle-user', { scopes: ['Device.Read'] });
    assert.equal((await w.appia.api(readOnly, 'GET', '/beta/me/events')).status, 403);
  });
});
