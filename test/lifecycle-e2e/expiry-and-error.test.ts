import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppiaError } from '../../src/domain/errors.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { StatusChange, Store } from '../../src/store/store.js';
import { familyReached } from './families.js';
import { world, type World } from './helpers.js';

const soon = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('expired: expirationDateTime passes on a command that is not final', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(() => w.stop());

  test('a command waiting for an offline device expires within a second of its expirationDateTime', async () => {
    const device = await w.device();
    const created = await w.create(device.id, { type: 'LaunchUri', payload: { uri: 'https://e.test/' }, expirationDateTime: soon(600) });
    await w.reach(device.id, created.id, 'expired');
    const history = await w.history(device.id, created.id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'expired']);
    const late = Date.parse(history[1]!.dateTime) - Date.parse(created.expirationDateTime);
    assert.ok(late >= 0 && late < 1_000, `expired ${late} ms after its expirationDateTime`);
  });

  test('a command the device is still executing expires too, and its late answer is refused', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id, { type: 'LaunchUri', payload: { uri: 'https://e.test/' }, expirationDateTime: soon(600) });
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    await w.reach(device.id, id, 'expired');
    const late = await raw.report({ t: 'completed', id, responsePayload: { too: 'late' } });
    assert.equal(late.t, 'nack');
    const command = await w.get(device.id, id);
    assert.equal(command.status, 'expired');
    assert.equal(command.responsePayload, null);
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'executing', 'expired']);
  });

  test('expirationDateTime may be at most 30 days ahead', async () => {
    const device = await w.device();
    const res = await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands`, {
      type: 'LaunchUri',
      payload: { uri: 'https://e.test/' },
      expirationDateTime: soon(30 * 24 * 3600_000 + 60_000),
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /30 days/);
  });
});

describe('the default expirationDateTime comes from APPIA_DEFAULT_TTL_MS', () => {
  let w: World;
  before(async () => {
    w = await world({ defaultTtlMs: 500 });
  });
  after(() => w.stop());

  test('a command created without expirationDateTime gets the default, and expires by it', async () => {
    const device = await w.device();
    const created = await w.create(device.id);
    assert.equal(Date.parse(created.expirationDateTime) - Date.parse(created.createdDateTime), 500);
    await w.reach(device.id, created.id, 'expired');
  });
});

describe('error: an internal fault leaves the command unprocessable', () => {
  const REFUSED = 'the store refuses this';
  let w: World;
  let dataDir: string;
  before(async () => {
    // Fault injection at the store seam: this store refuses any responsePayload carrying REFUSED,
    // the way a database refuses a value it cannot hold. Everything else is the real SQLite store.
    dataDir = await mkdtemp(join(tmpdir(), 'appia-fault-'));
    w = await world({}, { dataDir, store: refusing(openSqliteStore({ path: join(dataDir, 'appia.db') }), REFUSED) });
  });
  after(async () => {
    await w.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test("a device answer the store refuses ends the command error, with the reason, and the device's report is refused", async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.acked({ t: 'received', id });

    const answer = await raw.report({ t: 'completed', id, responsePayload: { note: REFUSED } });
    assert.equal(answer.t, 'nack');

    const command = await w.get(device.id, id);
    assert.equal(command.status, 'error');
    assert.match(command.error, /internal fault while recording completed/);
    assert.match(command.error, /refused to store the response payload/);
    assert.equal(command.responsePayload, null);
    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'executing', 'error']);
    assert.equal(history[3]!.detail, command.error);
  });

  test('a command in error is final: a cancel is a 409 naming it', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.report({ t: 'completed', id, responsePayload: { note: REFUSED } });
    await w.reach(device.id, id, 'error');
    const res = await w.appia.api(w.token, 'POST', `/beta/me/devices/${device.id}/commands/${id}/cancel`);
    assert.equal(res.status, 409);
    assert.match(res.body.error.message, /already error/);
  });

  familyReached('expiry-and-error');
});

/** the real store, except that it refuses to record a responsePayload containing `marker` */
function refusing(inner: Store, marker: string): Store {
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'transitionChain') {
        return async (changes: readonly StatusChange[]) => {
          if (changes.some((change) => change.responsePayloadJson?.includes(marker))) {
            throw new AppiaError('internal', 'the database refused to store the response payload');
          }
          return target.transitionChain(changes);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
