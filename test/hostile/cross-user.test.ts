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
  readonly path: (device: string, command: string, user: string) => string;
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
  // HOOK: command batches (DESIGN 9: /me/commandBatches/{bid}, .../{bid}/commands, .../{bid}/cancel,
  // and POST /me/devices/{id}/commands/cancel) join this table when their routes exist.
];

describe("another user's things, on every route", () => {
  let arena: Arena;
  let victimDevice: TestDevice;
  let attackerDevice: TestDevice;
  let device: string;
  let command: string;
  before(async () => {
    arena = await openArena();
    const { victim, attacker } = arena;
    device = victim.devices[0]!.id;
    // the victim's command has run: it has a status, a history and an answer that must not leak
    victimDevice = await connectDevice(arena.appia, victim.devices[0]!.deviceToken);
    for (let i = 0; i < 2; i++) {
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
    test(`${route.method} ${route.path('{device}', '{command}', '{user}')} with another user's ids is 404 and says no more than for ids that do not exist`, async () => {
      const { attacker, victim } = arena;
      const before = await arena.snapshot([victim]);
      const path = route.path(device, command, victim.user);
      const res = await arena.appia.api(attacker.token, route.method, path, route.body);
      assert.equal(res.status, 404, `${route.method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'itemNotFound');

      const text = JSON.stringify(res.body);
      const otherIds = [...victim.devices.map((d) => d.id), ...Object.values(victim.commands).flat()].filter((id) => !path.toLowerCase().includes(id.toLowerCase()));
      for (const secret of [...otherIds, 'victim-answer', 'victim laptop', 'example.com']) {
        assert.ok(!text.toLowerCase().includes(secret.toLowerCase()), `the answer reveals ${secret}: ${text}`);
      }
      for (const status of STATUSES) assert.doesNotMatch(res.body.error.message, new RegExp(`\\b${status}\\b`, 'i'), `the answer reveals a status: ${text}`);
      // the same route with ids that exist nowhere: the same answer, ids aside
      const madeUp = { device: randomUUID(), command: '0'.repeat(12) + 'F'.repeat(32), user: `nobody-${randomUUID()}` };
      const control = await arena.appia.api(attacker.token, route.method, route.path(madeUp.device, madeUp.command, madeUp.user), route.body);
      assert.equal(control.status, 404);
      assert.deepEqual(normalised(res.body, [device, command, victim.user]), normalised(control.body, [madeUp.device, madeUp.command, madeUp.user]));
      assert.equal(await arena.snapshot([victim]), before, 'nothing of the victim changed');
    });
  }

  test('command batches: not built yet', { skip: 'command batches (DESIGN 9) are not served yet; add their routes to ROUTES above when they are' }, () => {});

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
