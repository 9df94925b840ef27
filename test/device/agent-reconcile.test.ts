import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { ping, testUser, type TestUser } from './support.js';

// DESIGN 4 with the real `appia agent` process: killed with SIGKILL in the
// middle of a command and started again, it answers the resumed command as
// lost, so the command ends at once instead of waiting for its expiry.

const bin = fileURLToPath(new URL('../../../bin/appia.js', import.meta.url));
let appia: TestAppia;
let alice: TestUser;
let dir: string;
const children: ChildProcess[] = [];

before(async () => {
  appia = await startTestAppia({ pingIntervalMs: 0 });
  alice = await testUser(appia, 'alice');
  dir = await mkdtemp(join(tmpdir(), 'appia-agent-'));
  await writeFile(join(dir, 'services.mjs'), 'export default { forever: () => new Promise(() => {}) };\n');
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await appia.stop();
  await rm(dir, { recursive: true, force: true });
});

/** starts `appia agent` and resolves once it says it is ready */
async function agent(deviceToken: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, 'agent', '--server', appia.url, '--dry-run', '--handlers', join(dir, 'services.mjs')], {
    env: { ...process.env, APPIA_DEVICE_TOKEN: deviceToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += String(chunk);
      if (/ready:/.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`appia agent exited with ${code} before it was ready: ${out}`)));
  });
  return child;
}

test('an agent killed mid-command and started again reports the command lost by the device', async () => {
  const { id, deviceToken } = await appia.addDevice(alice.token);
  const first = await agent(deviceToken);
  const command = await alice.send(id, { ...ping(), appServiceName: 'forever' });
  for (let i = 0; (await alice.get(id, command.id)).status !== 'executing'; i++) {
    assert.ok(i < 500, 'the agent never started the command');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const gone = new Promise((resolve) => first.once('exit', resolve));
  first.kill('SIGKILL');
  await gone;

  await agent(deviceToken);
  const done = await alice.final(id, command.id);
  assert.equal(done.status, 'executionFailed');
  assert.equal(done.error, 'lost by the device');
});
