import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { CliProcess, pathWithoutAppia } from '../cli/support.js';

/**
 * DESIGN 4: stopping the agent (Ctrl-C, SIGTERM) drains the connection: the
 * running commands get a grace period, then the connection closes and the
 * process exits, even while a handler still runs with timers of its own.
 * The real agent (node bin/appia.js agent) against a real server.
 */

let appia: TestAppia;
let scratch: string;
let env: NodeJS.ProcessEnv;
let userToken: string;

before(async () => {
  appia = await startTestAppia();
  userToken = await appia.token('stella');
  scratch = await mkdtemp(join(tmpdir(), 'appia-agent-stop-'));
  env = { PATH: await pathWithoutAppia(), APPIA_URL: appia.url };
  // A service that runs 20 s and ignores its cancel signal: its timer keeps Node's event loop busy.
  await writeFile(
    join(scratch, 'slow.mjs'),
    'export default { async slow() { await new Promise((r) => setTimeout(r, 20_000)); console.log("slow service finished"); return { done: true }; } };\n',
  );
});
after(async () => {
  await appia.stop();
  await rm(scratch, { recursive: true, force: true });
  await rm(env['PATH']!, { recursive: true, force: true });
});

describe('stopping the agent', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`on ${signal} with a command still running, it prints stopped once the grace is over and the process exits`, async (t) => {
      const { id, deviceToken } = await appia.addDevice(userToken, `Slow PC ${signal}`);
      const agent = new CliProcess(['agent', '--handlers', join(scratch, 'slow.mjs'), '--grace-ms', '200'], { ...env, APPIA_DEVICE_TOKEN: deviceToken });
      t.after(() => agent.kill());
      await agent.printed(/ready: /);
      const created = await appia.api(userToken, 'POST', `/beta/me/devices/${id}/commands`, { type: 'AppService', appServiceName: 'slow', packageFamilyName: 'p', payload: {} });
      assert.equal(created.status, 201);
      await agent.printed(new RegExp(`received  ${created.body.id}`));

      assert.equal(await agent.stop(signal), 0);
      assert.match(agent.output, /stopping \(running commands get 200 ms to finish/);
      assert.match(agent.output, /\bstopped\n$/);
      // it exited while the service was still running: had it waited for the service's timer, this would be printed
      assert.doesNotMatch(agent.output, /slow service finished/);
    });
  }
});
