// DESIGN 6, safety, at create time: on a server WITHOUT the loopback allow-list, every loopback spelling
// of postBackUri is refused and nothing is stored or sent. The refused URLs all point at this test's own
// receiver, so a bug would hit it and never another address.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { startTestAppia } from '../support/appia.js';
import { spawnServer } from '../support/spawn.js';
import { HookReceiver } from './hook-receiver.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

describe('postBackUri at create time', () => {
  test('loopback in any spelling is refused with a 400 naming postBackUri, nothing is stored, and the receiver gets nothing', async (t) => {
    const appia = await startTestAppia({ postbackAllow: [] });
    const receiver = await HookReceiver.start();
    t.after(async () => {
      await receiver.close();
      await appia.stop();
    });
    const token = await appia.token('alice');
    const device = (await appia.addDevice(token)).id;
    const p = receiver.port;
    const hosts = [`localhost:${p}`, `127.1:${p}`, `0x7f000001:${p}`, `2130706433:${p}`, `[::1]:${p}`, `[::ffff:127.0.0.1]:${p}`, `127.0.0.1:${p}`];
    for (const scheme of ['http', 'https']) {
      for (const host of hosts) {
        const postBackUri = `${scheme}://${host}/hook`;
        const res = await appia.api(token, 'POST', `/beta/me/devices/${device}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com/' }, postBackUri });
        assert.equal(res.status, 400, postBackUri);
        assert.equal(res.body.error.code, 'BadRequest', postBackUri);
        assert.match(res.body.error.message, /^postBackUri/, postBackUri);
        assert.match(res.body.error.message, scheme === 'http' ? /https/ : /loopback/, postBackUri);
      }
    }
    // credentials are refused too, so they are never stored or echoed
    const withCredentials = await appia.api(token, 'POST', `/beta/me/devices/${device}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com/' }, postBackUri: `https://user:secret@127.0.0.1:${p}/` });
    assert.equal(withCredentials.status, 400);
    assert.doesNotMatch(JSON.stringify(withCredentials.body), /secret/);

    const list = await appia.api(token, 'GET', `/beta/me/devices/${device}/commands`);
    assert.deepEqual(list.body.value, [], 'nothing was stored');
    assert.equal((await appia.postbacks.stats()).depth, 0);
    assert.equal(receiver.connections, 0, 'nothing reached the receiver');
  });

  test('a wrong APPIA_POSTBACK_ALLOW entry stops `appia serve` at start with one line naming it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'appia-allow-'));
    try {
      const bin = fileURLToPath(new URL('../../../bin/appia.js', import.meta.url));
      const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data', dataDir, '--log-level', 'silent'], {
        env: { ...process.env, APPIA_POSTBACK_ALLOW: '127.0.0.1/32, 10/8' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 2);
      assert.equal(stderr, 'appia serve: APPIA_POSTBACK_ALLOW: "10/8" is not a CIDR range (like 10.0.0.0/8 or fd00::/8)\n');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('with the allow-list, a listed range may be reached over http', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'appia-allow-'));
    const server = await spawnServer(dataDir, ['--postback-allow', '127.0.0.1/32']);
    t.after(async () => {
      server.child.kill('SIGTERM');
      if (server.child.exitCode === null) await once(server.child, 'exit');
      await rm(dataDir, { recursive: true, force: true });
    });
    const receiver = await HookReceiver.start();
    t.after(() => receiver.close());
    const token = await (await openEmbeddedIssuer({ dataDir })).mint({ user: 'alice' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const device = (await (await fetch(`${server.url}/beta/me/devices`, { method: 'POST', headers, body: JSON.stringify({ name: 'd' }) })).json()) as { id: string };
    const res = await fetch(`${server.url}/beta/me/devices/${device.id}/commands`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ type: 'LaunchUri', payload: { uri: 'https://example.com/' }, postBackUri: receiver.url() }),
    });
    assert.equal(res.status, 201);
    await receiver.until(() => receiver.delivered().length === 1, 'the requesting postback');
    assert.equal(receiver.arrivals[0]!.body.status, 'requesting');
  });
});
