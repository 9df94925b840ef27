import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connectDevice, type TestDevice } from '../gateway/support.js';
import { STATUSES } from '../../src/domain/status.js';
import { openArena, type Arena } from './support.js';

/**
 * DESIGN 2: another user's device, command or log is 404 on every route,
 * with an answer that tells nothing a made-up id would not (no id the
 * caller did not send, no status, no name); DESIGN 4: a device's report on
 * another device's command is nacked "no such command", as for an id that
 * does not exist.
 */
interface Route {
  readonly method: string;
  readonly path: (device: string, command: string, user: string, batch: string) => string;
  readonly body?: unknown;
}

const ROUTES: readonly Route[] = [
  { method: 'GET', path: (d) => `/beta/me/devices/${d}` },
  { method: 'DELETE', path: (d) => `/beta/me/devices/${d}` },
  { method: 'GET', path: (d) => `/beta/me/devices/${d}/commands` },
  { method: 'POST', path: (d) => `/beta/me/devices/${d}/commands`, body: { type: 'LaunchUri', payload: { uri: 'https://x.test/' } } },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/commands/${c}` },
  { method: 'GET', path: (d, c) => `/v1.0/me/devices/${d}/command/${c}` },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/commands/${c}?$expand=responsepayload` },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/commands/${c}/responsePayload` },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/command/${c}/responsepayload` },
  { method: 'POST', path: (d, c) => `/beta/me/devices/${d}/commands/${c}/cancel` },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/commands/${c}/history` },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/commands/${c}/events` },
  { method: 'GET', path: (d, _c, u) => `/beta/users/${u}/devices/${d}` },
  { method: 'GET', path: (_d, _c, u) => `/beta/users/${u}/devices` },
  { method: 'GET', path: (d, c, u) => `/beta/users/${u}/devices/${d}/commands/${c}` },
  { method: 'GET', path: (d, c) => `/beta/me/devices/${d}/commands/${c}/postbacks` },
  // DESIGN 9: command batches and the device queue purge
  { method: 'GET', path: (_d, _c, _u, b) => `/beta/me/commandBatches/${b}` },
  { method: 'GET', path: (_d, _c, _u, b) => `/beta/me/commandBatches/${b}/commands` },
  { method: 'POST', path: (_d, _c, _u, b) => `/beta/me/commandBatches/${b}/cancel` },
  { method: 'GET', path: (_d, _c, u, b) => `/beta/users/${u}/commandBatches/${b}` },
  { method: 'POST', path: (d) => `/beta/me/devices/${d}/commands/cancel` },
];

describe("another user's things, on every route", () => {
  let arena: Arena;
  let victimDevice: TestDevice;
  let attackerDevice: TestDevice;
  let device: string;
  let command: string;
  let batch: string;
  before(async () => {
    arena = await openArena();
    const { victim, attacker } = arena;
    device = victim.devices[0]!.id;
    // the victim's batch, to both of the victim's devices
    const made = await arena.appia.api(victim.token, 'POST', '/beta/me/commandBatches', { all: true, type: 'LaunchUri', payload: { uri: 'https://example.com/all' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    batch = made.body.id;
    // the victim's command has run: it has a status, a history and an answer that must not leak
    victimDevice = await connectDevice(arena.appia, victim.devices[0]!.deviceToken);
    for (let i = 0; i < 3; i++) {
      const frame = await victimDevice.command();
      await victimDevice.report({ t: 'received', id: frame.command.id });
      await victimDevice.report({ t: 'completed', id: frame.command.id, responsePayload: { secret: 'victim-answer' } });
    }
    command = victim.commands[device]![0]!;
    attackerDevice = await connectDevice(arena.appia, attacker.devices[0]!.deviceToken);
  });
  after(async () => {
    await victimDevice.close();
    await attackerDevice.close();
    await arena.stop();
  });

  const normalised = (body: any, ids: readonly string[]) => {
    let message = String(body?.error?.message ?? '');
    for (const id of ids) message = message.split(id).join('<id>').split(id.toUpperCase()).join('<id>');
    return { code: body?.error?.code, message };
  };

  for (const route of ROUTES) {
    test(`${route.method} ${route.path('{device}', '{command}', '{user}', '{batch}')} with another user's ids is 404 and says no more than for ids that do not exist`, async () => {
      const { attacker, victim } = arena;
      const before = await arena.snapshot([victim]);
      const path = route.path(device, command, victim.user, batch);
      const res = await arena.appia.api(attacker.token, route.method, path, route.body);
      assert.equal(res.status, 404, `${route.method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'itemNotFound');

      const text = JSON.stringify(res.body);
      const otherIds = [...victim.devices.map((d) => d.id), ...Object.values(victim.commands).flat(), batch].filter((id) => !path.toLowerCase().includes(id.toLowerCase()));
      for (const secret of [...otherIds, 'victim-answer', 'victim laptop', 'example.com']) {
        assert.ok(!text.toLowerCase().includes(secret.toLowerCase()), `the answer reveals ${secret}: ${text}`);
      }
      for (const status of STATUSES) assert.doesNotMatch(res.body.error.message, new RegExp(`\\b${status}\\b`, 'i'), `the answer reveals a status: ${text}`);
      // the same route with ids that exist nowhere: the same answer, ids aside
      const madeUp = { device: randomUUID(), command: '0'.repeat(12) + 'F'.repeat(32), user: `nobody-${randomUUID()}`, batch: '0'.repeat(12) + 'E'.repeat(32) };
      const control = await arena.appia.api(attacker.token, route.method, route.path(madeUp.device, madeUp.command, madeUp.user, madeUp.batch), route.body);
      assert.equal(control.status, 404);
      assert.deepEqual(normalised(res.body, [device, command, victim.user, batch]), normalised(control.body, [madeUp.device, madeUp.command, madeUp.user, madeUp.batch]));
      assert.equal(await arena.snapshot([victim]), before, 'nothing of the victim changed');
    });
  }

  test("another user's batches are not listed, and a batch naming the victim's device beside the attacker's own creates nothing for either", async () => {
    const { attacker, victim } = arena;
    const before = await arena.snapshot([victim]);
    const listed = await arena.appia.api(attacker.token, 'GET', '/beta/me/commandBatches');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.value, []);
    const mixed = await arena.appia.api(attacker.token, 'POST', '/beta/me/commandBatches', {
      deviceIds: [attacker.devices[0]!.id, device],
      type: 'LaunchUri',
      payload: { uri: 'https://x.test/' },
    });
    assert.equal(mixed.status, 404);
    assert.equal(mixed.body.error.code, 'itemNotFound');
    // and says no more than for a device that does not exist
    const madeUp = randomUUID();
    const control = await arena.appia.api(attacker.token, 'POST', '/beta/me/commandBatches', {
      deviceIds: [attacker.devices[0]!.id, madeUp],
      type: 'LaunchUri',
      payload: { uri: 'https://x.test/' },
    });
    assert.equal(control.status, 404);
    assert.deepEqual(normalised(mixed.body, [device]), normalised(control.body, [madeUp]));
    assert.equal((await arena.appia.api(attacker.token, 'GET', `/beta/me/devices/${attacker.devices[0]!.id}/commands`)).body.value.length, 2, 'nothing was created');
    // `all` is the caller's own devices only
    const all = await arena.appia.api(attacker.token, 'POST', '/beta/me/commandBatches', { all: true, type: 'LaunchUri', payload: { uri: 'https://x.test/' } });
    assert.equal(all.status, 201);
    assert.equal(all.body.total, attacker.devices.length);
    const commands = await arena.appia.api(attacker.token, 'GET', `/beta/me/commandBatches/${all.body.id}/commands`);
    assert.deepEqual(commands.body.value.map((c: any) => c.batchId), attacker.devices.map(() => all.body.id));
    const victimDevices = new Set(victim.devices.map((d) => d.id));
    assert.ok(commands.body.value.every((c: any) => !victimDevices.has(c.deviceId)));
    assert.equal(await arena.snapshot([victim]), before, 'nothing of the victim changed');
  });

  test('a device reporting on another device\'s command is nacked "no such command", exactly as for an id that does not exist', async () => {
    const { victim } = arena;
    const before = await arena.snapshot([victim]);
    const ids = Object.values(victim.commands).flat();
    for (const t of ['received', 'progress', 'completed', 'failed', 'dropped', 'canceled']) {
      for (const id of [...ids, ids[0]!.toLowerCase(), 'F'.repeat(44)]) {
        const answer = await attackerDevice.report({ t, id, customStatus: 'x', error: 'x', responsePayload: { took: 'it' } });
        assert.deepEqual({ t: answer.t, error: answer['error'] }, { t: 'nack', error: 'no such command' }, `${t} ${id}`);
      }
    }
    assert.equal(await arena.snapshot([victim]), before);
  });

  test("device pairing (DESIGN 10): a code the victim approved is 404 to the attacker, the attacker's approval makes no device and leaves the victim's as it was", async () => {
    const { attacker, victim } = arena;
    const asked = await fetch(`${arena.appia.url}/devices/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'victim kiosk' }) });
    const { userCode } = (await asked.json()) as { userCode: string };
    const approved = await arena.appia.api(victim.token, 'POST', '/beta/me/devicePairings', { userCode });
    assert.equal(approved.status, 201);
    const attackerDevices = async () => (await arena.appia.api(attacker.token, 'GET', '/beta/me/devices')).body.value.map((d: { id: string }) => d.id);
    const before = await attackerDevices();
    for (const path of ['/beta/me/devicePairings', '/beta/me/devicePairings/deny']) {
      const res = await arena.appia.api(attacker.token, 'POST', path, { userCode });
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'itemNotFound');
      assert.ok(!JSON.stringify(res.body).includes('victim kiosk'));
    }
    assert.deepEqual(await attackerDevices(), before);
    assert.equal((await arena.appia.api(attacker.token, 'GET', `/beta/me/devices/${approved.body.id}`)).status, 404);
    assert.equal((await arena.appia.api(victim.token, 'GET', `/beta/me/devices/${approved.body.id}`)).body.name, 'victim kiosk');
  });
});
