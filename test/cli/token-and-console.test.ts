import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsoleCommand } from '../../src/cli/commands/console.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { appiaCli, pathWithoutAppia } from './support.js';

/**
 * `appia token` and `appia console` mint from the issuer in the server's
 * data folder, and never quietly make a second issuer whose tokens the
 * server would refuse.
 */

let appia: TestAppia;
let scratch: string;
let path: string;

before(async () => {
  appia = await startTestAppia();
  scratch = await mkdtemp(join(tmpdir(), 'appia-token-'));
  path = await pathWithoutAppia();
});
after(async () => {
  await appia.stop();
  await rm(scratch, { recursive: true, force: true });
  await rm(path, { recursive: true, force: true });
});

const devicesWith = async (token: string) => (await appia.api(token, 'GET', '/beta/me/devices')).status;

describe('appia token', () => {
  test('run where the server keeps its data, it prints only a token the server accepts', async () => {
    const run = await appiaCli(['token', '--user', 'alice', '--data', appia.dataDir], { PATH: path });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(await devicesWith(run.stdout.trim()), 200);
    const viaEnv = await appiaCli(['token', '--user', 'alice', '--json'], { PATH: path, APPIA_DATA: appia.dataDir });
    assert.equal(await devicesWith(viaEnv.stdout.trim()), 200);
  });

  test('in a folder with no issuer it makes none: one line naming the folder and the ways out, exit 1', async () => {
    const empty = join(scratch, 'elsewhere');
    const run = await appiaCli(['token', '--user', 'alice', '--data', empty], { PATH: path });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    assert.ok(run.stderr.includes(`no token issuer in ${empty}`), run.stderr);
    assert.match(run.stderr, /run this where the server runs, pass --data .*, or --init/);
    await assert.rejects(readdir(join(empty, 'issuer')), { code: 'ENOENT' });

    // the default folder is ./appia-data of where it runs
    const cwd = await mkdtemp(join(scratch, 'cwd-'));
    const byDefault = await appiaCli(['token', '--user', 'alice'], { PATH: path }, cwd);
    assert.equal(byDefault.code, 1);
    assert.ok(byDefault.stderr.includes(`no token issuer in ${join(cwd, 'appia-data')}`), byDefault.stderr);
  });

  test('--init makes the issuer for a server not started yet, which then accepts its tokens', async () => {
    const fresh = join(scratch, 'fresh');
    const init = await appiaCli(['token', '--user', 'bob', '--data', fresh, '--init'], { PATH: path });
    assert.equal(init.code, 0, init.stderr);
    const later = await appiaCli(['token', '--user', 'bob', '--data', fresh], { PATH: path });
    assert.equal(later.code, 0, later.stderr);
    const server = await startTestAppia({}, { dataDir: fresh });
    try {
      for (const token of [init.stdout.trim(), later.stdout.trim()]) {
        assert.equal((await server.api(token, 'GET', '/beta/me/devices')).status, 200);
      }
      // and the first server, with its own issuer, refuses them
      assert.equal(await devicesWith(init.stdout.trim()), 401);
    } finally {
      await server.stop();
    }
  });
});

describe('appia console', () => {
  test('prints the console address on the server URL with a working user token in its fragment', async () => {
    const run = await appiaCli(['console', '--user', 'carol', '--data', appia.dataDir], { PATH: path, APPIA_URL: appia.url });
    assert.equal(run.code, 0, run.stderr);
    const m = new RegExp(`^${appia.url.replace(/[.]/g, '\\.')}/#token=([\\w.-]+)\\n$`).exec(run.stdout);
    assert.ok(m, run.stdout);
    assert.equal(await devicesWith(m[1]!), 200);
  });

  test('--open hands the same address to the opener', async (t) => {
    const opened: string[] = [];
    const printed: string[] = [];
    t.mock.method(console, 'log', (line: string) => printed.push(line));
    const command = createConsoleCommand(async (url) => {
      opened.push(url);
    });
    const code = await command.run(['--user', 'carol', '--data', appia.dataDir, '--server', appia.url, '--open']);
    t.mock.restoreAll();
    assert.equal(code, 0);
    assert.equal(opened.length, 1);
    assert.deepEqual(printed, opened);
    assert.ok(opened[0]!.startsWith(`${appia.url}/#token=`));
    assert.equal(await devicesWith(opened[0]!.split('#token=')[1]!), 200);
  });

  test('follows the same data-folder rule as appia token', async () => {
    const run = await appiaCli(['console', '--user', 'carol', '--data', join(scratch, 'nowhere')], { PATH: path, APPIA_URL: appia.url });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^appia console: no token issuer in .*nowhere/);
  });
});
