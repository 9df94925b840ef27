import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { appiaCli, pathWithoutAppia, type Run } from './support.js';

/**
 * DESIGN 7: a server that cannot start says why in one line and exits 1;
 * no stack trace for a cause the user can fix.
 */

let appia: TestAppia;
let scratch: string;
let path: string;

before(async () => {
  appia = await startTestAppia();
  scratch = await mkdtemp(join(tmpdir(), 'appia-serve-'));
  path = await pathWithoutAppia();
});
after(async () => {
  await appia.stop();
  await rm(scratch, { recursive: true, force: true });
  await rm(path, { recursive: true, force: true });
});

const serve = (...flags: string[]): Promise<Run> => appiaCli(['serve', '--host', '127.0.0.1', ...flags], { PATH: path });

/** exit 1, nothing on stdout, and exactly one line on stderr, which is returned */
function oneLine(run: Run): string {
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
  return lines[0]!;
}

describe('appia serve that cannot start', { concurrency: true }, () => {
  test('on a port already in use it says so in one line and exits 1', async () => {
    const run = await serve('--port', String(appia.port), '--data', join(scratch, 'busy'));
    assert.equal(oneLine(run), `appia serve: port ${appia.port} is already in use on 127.0.0.1; stop the other process or pass --port`);
    assert.equal(run.stdout, '');
  });

  test('with a TLS file that is missing, or not a certificate, it names the file', async () => {
    const missing = await serve('--port', '0', '--data', join(scratch, 'tls1'), '--tls-cert', join(scratch, 'none.pem'), '--tls-key', join(scratch, 'none.key'));
    assert.match(oneLine(missing), /^appia serve: cannot read the TLS certificate .*none\.pem \(no such file or directory.*\); check --tls-cert$/);

    const junk = join(scratch, 'junk.pem');
    await writeFile(junk, 'not a certificate\n');
    const bad = await serve('--port', '0', '--data', join(scratch, 'tls2'), '--tls-cert', junk, '--tls-key', junk);
    assert.match(oneLine(bad), /^appia serve: the TLS certificate .*junk\.pem and key .*junk\.pem cannot be used \(.*\); check --tls-cert and --tls-key$/);
  });

  test('with a data folder it cannot use it names the folder', async () => {
    const file = join(scratch, 'a-file');
    await writeFile(file, 'not a folder\n');
    const run = await serve('--port', '0', '--data', join(file, 'data'));
    assert.match(oneLine(run), new RegExp(`^appia serve: cannot use the data folder ${join(file, 'data')} \\(.*\\); pass --data with a folder you can write$`));
  });
});
