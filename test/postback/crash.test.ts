// DESIGN 6: "It survives restarts." The outbox is written in the transaction of each change, so a server
// SIGKILLed while postbacks are flowing loses none: after a restart on the same data folder every entry is
// delivered, in order per command, without a gap. An entry sent just before the kill may arrive twice
// (at least once), recognisable by its webhook-id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { startTestAppia } from '../support/appia.js';
import { spawnServer } from '../support/spawn.js';
import { HookReceiver } from './hook-receiver.js';
import { eventually } from './world.js';

const COMMANDS = 60;

test('a server killed while postbacks flow delivers every entry after its restart, in order per command, with no gap', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'appia-postback-crash-'));
  const receiver = await HookReceiver.start((res) => void setTimeout(() => res.writeHead(204).end(), 3));
  const server = await spawnServer(dataDir, ['--postback-allow', '127.0.0.1/32', '--max-open-commands', '0']);
  t.after(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await once(server.child, 'exit');
    }
    await receiver.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const token = await (await openEmbeddedIssuer({ dataDir })).mint({ user: 'alice' });
  const call = async (method: string, path: string, body?: unknown) => {
    const headers = { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const res = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const device = (await call('POST', '/beta/me/devices', { name: 'parked' })).body.id as string;
  const secret = (await call('GET', '/beta/me/postBackSecret')).body.secret as string;

  // Each command makes three postbacks (requesting, cancel, canceled); the kill lands while they flow.
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < COMMANDS && server.child.signalCode === null) {
      next++;
      try {
        const created = await call('POST', `/beta/me/devices/${device}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com/' }, postBackUri: receiver.url() });
        if (created.status === 201) assert.equal((await call('POST', `/beta/me/devices/${device}/commands/${created.body.id}/cancel`)).status, 200);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        return; // the server is gone
      }
    }
  };
  const load = Promise.all(Array.from({ length: 6 }, work));
  await receiver.until(() => receiver.delivered().length >= 40, 'postbacks flowing');
  server.child.kill('SIGKILL');
  await once(server.child, 'exit');
  await load;
  const beforeKill = receiver.arrivals.length;

  const restarted = await startTestAppia({ postbackAllow: ['127.0.0.1/32'] }, { dataDir });
  t.after(() => restarted.stop());
  assert.equal((await restarted.api(token, 'GET', '/beta/me/postBackSecret')).body.secret, secret, 'the secret survived the restart');
  const commands = (await restarted.api(token, 'GET', `/beta/me/devices/${device}/commands?$top=1000`)).body.value as { id: string }[];
  const histories = new Map<string, number>();
  for (const c of commands) histories.set(c.id, (await restarted.api(token, 'GET', `/beta/me/devices/${device}/commands/${c.id}/history`)).body.value.length);
  const expected = [...histories.values()].reduce((a, b) => a + b, 0);
  const deliveredIds = () => new Set(receiver.delivered().map((a) => a.webhookId));
  // entries the killed server had under way wait for their lease (the attempt timeout and 5 s) to run out
  await receiver.until(() => deliveredIds().size >= expected, `all ${expected} postbacks`, 60_000);

  assert.ok(beforeKill < expected, 'some postbacks were still to come when the server was killed');
  for (const [commandId, changes] of histories) {
    const arrivals = receiver.of(commandId);
    const sequences = arrivals.map((a) => a.body.sequence);
    assert.deepEqual([...new Set(sequences)], Array.from({ length: changes }, (_, i) => i + 1), `command ${commandId}: every entry, in order, no gap`);
    assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), `command ${commandId}: a repeat only ever comes before the next entry`);
    const ids = new Map<number, Set<string>>();
    for (const a of arrivals) {
      ids.set(a.body.sequence, (ids.get(a.body.sequence) ?? new Set()).add(a.webhookId));
      assert.deepEqual(new Webhook(secret).verify(a.rawBody, a.headers), a.body);
    }
    assert.ok([...ids.values()].every((set) => set.size === 1), 'a repeat keeps its webhook-id');
    assert.equal(new Set(arrivals.map((a) => a.webhookId)).size, changes, 'and each entry has its own');
  }
  const repeats = receiver.arrivals.length - deliveredIds().size;
  t.diagnostic(`${expected} postbacks for ${histories.size} commands; ${beforeKill} arrived before the kill; ${repeats} arrived twice`);
  await eventually(async () => ((await restarted.postbacks.stats()).depth === 0 ? true : undefined), 'an empty outbox');
});
