import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { spawnServer } from '../support/spawn.js';
import { until as waitFor } from './support.js';

const PING = ['--ping-interval-ms', '200'];

/**
 * DESIGN 4, the presence lease: a server killed with its devices connected
 * leaves them Online in its database. Started again, it marks Offline the
 * devices no node renews (three ping intervals), and keeps Online the ones
 * that connect to it again.
 */
test('after a kill and a restart, a device that never came back goes Offline once its lease runs out; one that reconnected stays Online', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'appia-lease-'));
  const connections: DeviceConnection[] = [];
  const servers: { child: import('node:child_process').ChildProcess }[] = [];
  t.after(async () => {
    await Promise.all(connections.map((c) => c.close()));
    for (const { child } of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  });

  const first = await spawnServer(dataDir, PING);
  servers.push(first);
  const token = await (await openEmbeddedIssuer({ dataDir })).mint({ user: 'lena' });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const register = async (url: string, name: string) =>
    (await (await fetch(`${url}/beta/me/devices`, { method: 'POST', headers, body: JSON.stringify({ name }) })).json()) as { id: string; deviceToken: string };
  const presence = async (url: string, id: string) =>
    (await (await fetch(`${url}/beta/me/devices/${id}`, { headers })).json()) as { status: string; lastSeenDateTime: string | null };
  // support.ts `until` waits for a value; these checks are yes or no
  const until = (check: () => Promise<boolean>, what: string) => waitFor(async () => ((await check()) ? true : undefined), what, 10_000);

  const gone = await register(first.url, 'Gone for good');
  const back = await register(first.url, 'Comes back');
  connections.push(await connect({ url: first.url, token: gone.deviceToken, reconnect: false, keepAliveMs: 0 }));
  connections.push(await connect({ url: first.url, token: back.deviceToken, reconnect: false, keepAliveMs: 0 }));
  await until(async () => (await presence(first.url, gone.id)).status === 'Online' && (await presence(first.url, back.id)).status === 'Online', 'both Online');

  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  const second = await spawnServer(dataDir, PING);
  servers.push(second);
  connections.push(await connect({ url: second.url, token: back.deviceToken, reconnect: false, keepAliveMs: 0 }));

  await until(async () => (await presence(second.url, gone.id)).status === 'Offline', 'the device that never came back to be Offline');
  const kept = await presence(second.url, back.id);
  assert.equal(kept.status, 'Online');
  // and its presence goes on being renewed: it is seen again, and stays Online past a lease
  await until(async () => (await presence(second.url, back.id)).lastSeenDateTime !== kept.lastSeenDateTime, 'a renewal');
  await new Promise((resolve) => setTimeout(resolve, 800));
  assert.equal((await presence(second.url, back.id)).status, 'Online');
  assert.equal((await presence(second.url, gone.id)).status, 'Offline');
});
