import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAppia } from '../support/appia.js';

/**
 * DESIGN 8: files in the data folder are readable by their owner only. The
 * database and its WAL hold payloads and permission tickets; the issuer's
 * folder holds the signing key. Another local user must read none of them.
 */
const skip = process.platform === 'win32' ? 'file modes are POSIX (Windows files have ACLs)' : false;

async function modes(dataDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, prefix: string) => {
    out[prefix || '.'] = ((await stat(dir)).mode & 0o777).toString(8);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path, name);
      else out[name] = ((await stat(path)).mode & 0o777).toString(8);
    }
  };
  await walk(dataDir, '');
  return out;
}

test('a fresh data folder and everything in it are its owner\'s only: database, WAL, shared memory, issuer files', { skip }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'appia-modes-'));
  const dataDir = join(parent, 'appia-data');
  const appia = await startTestAppia({}, { dataDir });
  try {
    const alice = await appia.token('alice');
    const device = await appia.addDevice(alice);
    await appia.api(alice, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test' }, permissionTicket: 'secret-ticket' });
    const found = await modes(dataDir);
    assert.ok('appia.db-wal' in found && 'appia.db-shm' in found, `the WAL files exist: ${Object.keys(found).join(', ')}`);
    for (const [name, mode] of Object.entries(found)) {
      const folder = name === '.' || name === 'issuer';
      assert.equal(mode, folder ? '700' : '600', `${name} is ${mode}`);
    }
  } finally {
    await appia.stop();
    await rm(parent, { recursive: true, force: true });
  }
});

test('a data folder an older version left readable is tightened at start', { skip }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'appia-modes-'));
  const dataDir = join(parent, 'appia-data');
  const first = await startTestAppia({}, { dataDir });
  await first.stop({ keepData: true });
  try {
    // what an older Appia made: a 0755 folder and 0644 files (the signing key was already 0600)
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, 'issuer'), 0o755);
    await chmod(join(dataDir, 'issuer', 'issuer.json'), 0o644);
    for (const name of await readdir(dataDir)) if (name.startsWith('appia.db')) await chmod(join(dataDir, name), 0o644);

    const second = await startTestAppia({}, { dataDir });
    try {
      for (const [name, mode] of Object.entries(await modes(dataDir))) {
        assert.equal(mode, name === '.' || name === 'issuer' ? '700' : '600', `${name} is ${mode}`);
      }
    } finally {
      await second.stop();
    }
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
