import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { startTestAppia } from '../support/appia.js';
import { spawnServer } from '../support/spawn.js';

/**
 * README, Performance: whichever SQLite durability setting runs, and
 * whichever thread writes, a command answered 201 survives the process being
 * killed (SIGKILL: no shutdown, no flush) at any moment. Creates are in
 * flight when the kill lands.
 */
const SETTINGS = [
  { synchronous: 'FULL', writer: 'thread' },
  { synchronous: 'NORMAL', writer: 'thread' },
  { synchronous: 'FULL', writer: 'inline' },
] as const;
for (const { synchronous, writer } of SETTINGS) {
  describe(`a process crash with synchronous=${synchronous}, writer=${writer}`, () => {
    test('loses no command that was answered 201', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'appia-crash-'));
      try {
        const server = await spawnServer(dataDir, ['--sqlite-synchronous', synchronous, '--sqlite-writer', writer, '--max-open-commands', '0']);
        const issuer = await openEmbeddedIssuer({ dataDir });
        const token = await issuer.mint({ user: 'alice' });
        const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
        const device = (await (await fetch(`${server.url}/beta/me/devices`, { method: 'POST', headers, body: JSON.stringify({ name: 'd' }) })).json()) as { id: string };

        const acked: string[] = [];
        let sent = 0;
        let killed = false;
        const create = async (): Promise<void> => {
          while (!killed && sent < 2000) {
            sent++;
            try {
              const res = await fetch(`${server.url}/beta/me/devices/${device.id}/commands`, {
                method: 'POST',
                headers,
                body: JSON.stringify({ type: 'LaunchUri', payload: { uri: `https://e.test/${sent}` } }),
              });
              if (res.status === 201) acked.push(((await res.json()) as { id: string }).id);
            } catch {
              return; // the server is gone
            }
            if (acked.length >= 300 && !killed) {
              killed = true;
              server.child.kill('SIGKILL');
            }
          }
        };
        await Promise.all(Array.from({ length: 32 }, create));
        assert.ok(killed, 'the server was killed while creates were in flight');
        if (server.child.exitCode === null && server.child.signalCode === null) await once(server.child, 'exit');

        const after = await startTestAppia({ sqliteSynchronous: synchronous, sqliteWriter: writer }, { dataDir });
        try {
          const stored = new Set<string>();
          let url: string | undefined = `${after.url}/beta/me/devices/${device.id}/commands?$top=1000`;
          while (url) {
            const page = (await (await fetch(url, { headers })).json()) as { value: { id: string }[]; '@odata.nextLink'?: string };
            for (const c of page.value) stored.add(c.id);
            url = page['@odata.nextLink'];
          }
          const lost = acked.filter((id) => !stored.has(id));
          assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged commands were lost`);
          assert.ok(stored.size >= acked.length);
        } finally {
          await after.stop();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
}
