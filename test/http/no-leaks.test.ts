import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice } from '../gateway/support.js';

const SECRET = 'sqlite-internal-detail-7f3a';

/**
 * DESIGN 2: an error a client sees is in the catalogue's words; what the
 * database said stays in the server's log. The faults here are SQLite's
 * own (triggers that raise, added through a second connection to the
 * server's database file), not stand-ins.
 */
describe('no database text reaches a client', () => {
  let appia: TestAppia;
  let alice: string;
  let db: Database.Database;
  before(async () => {
    appia = await startTestAppia();
    alice = await appia.token('alice');
    db = new Database(join(appia.dataDir, 'appia.db'));
  });
  after(async () => {
    db.close();
    await appia.stop();
  });

  const leaks = (body: unknown) => /sqlite|SQLITE|constraint|trigger|datatype|no such|7f3a/i.test(JSON.stringify(body));

  test('a device-list $skiptoken whose offset is not a safe integer is 400 naming $skiptoken, never a database error', async () => {
    await appia.addDevice(alice, 'one');
    for (const position of ['{"o":1e300}', '{"o":9223372036854775808}', '{"o":9007199254740992}', '{"o":-1}', '{"o":1.5}', '{"o":"3"}', '{"o":null}', '[]', 'null']) {
      const token = Buffer.from(position).toString('base64url');
      const res = await appia.api(alice, 'GET', `/beta/me/devices?$skiptoken=${token}`);
      assert.equal(res.status, 400, `${position}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, /\$skiptoken/);
      assert.ok(!leaks(res.body), position);
    }
    const fine = await appia.api(alice, 'GET', `/beta/me/devices?$skiptoken=${Buffer.from('{"o":9007199254740991}').toString('base64url')}`);
    assert.equal(fine.status, 200);
    assert.deepEqual(fine.body.value, []);
  });

  test('when the database refuses a write, the client gets 500 generalException with a request-id and none of its text', async () => {
    const device = await appia.addDevice(alice, 'refused');
    db.exec(`CREATE TRIGGER refuse_insert BEFORE INSERT ON commands WHEN NEW.permission_ticket = 'boom' BEGIN SELECT RAISE(ABORT, '${SECRET}'); END`);
    try {
      const res = await appia.api(alice, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test' }, permissionTicket: 'boom' });
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'generalException');
      assert.equal(res.body.error.innerError['request-id'], res.headers.get('request-id'));
      assert.ok(!leaks(res.body), JSON.stringify(res.body));
      assert.deepEqual((await appia.api(alice, 'GET', `/beta/me/devices/${device.id}/commands`)).body.value, [], 'nothing was stored');
    } finally {
      db.exec('DROP TRIGGER refuse_insert');
    }
  });

  test("when the database refuses a device's report, the command ends error with a reason in Appia's words only", async () => {
    const { id, deviceToken } = await appia.addDevice(alice, 'faulty');
    const device = await connectDevice(appia, deviceToken);
    try {
      const created = await appia.api(alice, 'POST', `/beta/me/devices/${id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/f' }, permissionTicket: 'fault-me' });
      const frame = await device.command();
      db.exec(
        `CREATE TRIGGER refuse_update BEFORE UPDATE OF status ON commands WHEN OLD.permission_ticket = 'fault-me' AND NEW.status = 'executing' BEGIN SELECT RAISE(ABORT, '${SECRET}'); END`,
      );
      const answer = await device.report({ t: 'received', id: frame.command.id });
      assert.equal(answer.t, 'nack');
      assert.ok(!leaks(answer), JSON.stringify(answer));
      const command = (await appia.api(alice, 'GET', `/beta/me/devices/${id}/commands/${created.body.id}`)).body;
      assert.equal(command.status, 'error');
      assert.match(command.error, /internal fault while recording received/);
      assert.ok(!leaks(command), command.error);
      const history = (await appia.api(alice, 'GET', `/beta/me/devices/${id}/commands/${created.body.id}/history`)).body;
      assert.ok(!leaks(history));
    } finally {
      db.exec('DROP TRIGGER IF EXISTS refuse_update');
      await device.close();
    }
  });
});
