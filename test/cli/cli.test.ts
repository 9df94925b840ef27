import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { appiaCli as runCli, BIN, CliProcess, pathWithoutAppia } from './support.js';

/**
 * The `appia` commands as a user runs them: the real bin in a child process,
 * against a real test server, asserting what is printed.
 */

let appia: TestAppia;
let env: NodeJS.ProcessEnv;
let scratch: string;
let emptyPath: string;

before(async () => {
  appia = await startTestAppia({ receiptTimeoutMs: 2000, retryBaseMs: 100 });
  emptyPath = await pathWithoutAppia();
  env = { PATH: emptyPath, APPIA_URL: appia.url, APPIA_TOKEN: await appia.token('carol') };
  scratch = await mkdtemp(join(tmpdir(), 'appia-cli-'));
});
after(async () => {
  await appia.stop();
  await rm(scratch, { recursive: true, force: true });
  await rm(emptyPath, { recursive: true, force: true });
});

const appiaCli = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli(args, { ...env, ...extraEnv });

class AgentProcess extends CliProcess {
  constructor(args: readonly string[], extraEnv: NodeJS.ProcessEnv) {
    super(['agent', ...args], { ...env, ...extraEnv });
  }
}

/** A device registered through the API (the CLI's own `device add` has its test). */
async function addDevice(name: string): Promise<{ id: string; token: string }> {
  const res = await appia.api(env['APPIA_TOKEN']!, 'POST', '/beta/me/devices', { name, kind: 'Desktop', platform: 'Linux' });
  assert.equal(res.status, 201);
  return { id: res.body.id, token: res.body.deviceToken };
}

describe('appia device / devices', { concurrency: true }, () => {
  test('device add prints the new device\'s id and its token once, with how to run the agent', async () => {
    const run = await appiaCli(['device', 'add', '--name', 'Living room PC', '--platform', 'Linux']);
    assert.equal(run.code, 0, run.stderr);
    const id = /^id\s+(\S+)$/m.exec(run.stdout)?.[1];
    const token = /^device token\s+(\S+)$/m.exec(run.stdout)?.[1];
    assert.ok(id && token, run.stdout);
    assert.match(run.stdout, /^Device added: Living room PC$/m);
    assert.match(id, /^[0-9a-f-]{36}$/);
    // run from a checkout (no appia on PATH), the hint says npx
    assert.ok(run.stdout.includes(`APPIA_DEVICE_TOKEN=${token} npx appia agent --server ${appia.url}`), run.stdout);
    const stored = await appia.api(env['APPIA_TOKEN']!, 'GET', `/beta/me/devices/${id}`);
    assert.deepEqual([stored.body.name, stored.body.kind, stored.body.platform], ['Living room PC', 'Desktop', 'Linux']);
  });

  test('devices lists them as a table, or as JSON with --json; device remove takes one away', async () => {
    const { id } = await addDevice('Kitchen tablet');
    const table = await appiaCli(['devices']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+KIND\s+PLATFORM\s+STATUS\s+LAST SEEN$/);
    const row = lines.find((l) => l.startsWith(id));
    assert.ok(row, table.stdout);
    assert.match(row, /Kitchen tablet\s+Desktop\s+Linux\s+Offline/);
    const json = await appiaCli(['devices', '--json']);
    assert.ok(JSON.parse(json.stdout).value.some((d: { id: string; name: string }) => d.id === id && d.name === 'Kitchen tablet'));
    const removed = await appiaCli(['device', 'remove', 'Kitchen tablet']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^Device Kitchen tablet removed\.$/m);
    assert.equal((await appia.api(env['APPIA_TOKEN']!, 'GET', `/beta/me/devices/${id}`)).status, 404);
  });

  test('errors are said plainly: Graph errors as "error: code: message", usage errors with the fix, exit codes non-zero', async () => {
    const { id } = await addDevice('Study PC');
    const [missing, noToken, badToken, badPayload, noSuchName] = await Promise.all([
      appiaCli(['status', id, '0000000000000000000000000000000000000000000A']),
      appiaCli(['devices'], { APPIA_TOKEN: '' }),
      appiaCli(['devices', '--token', 'nonsense']),
      appiaCli(['send', id, '--app-service', 'ping', '--package', 'p', '--payload', '[1]']),
      appiaCli(['send', 'No such device', '--uri', 'https://example.com']),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: itemNotFound: command 0000000000000000000000000000000000000000000A was not found/m);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /a user token is needed: pass --token or set APPIA_TOKEN/);
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /^error: InvalidAuthenticationToken: /m);
    assert.equal(badPayload.code, 2);
    assert.match(badPayload.stderr, /--payload must be a JSON object/);
    assert.equal(noSuchName.code, 1);
    assert.match(noSuchName.stderr, /no device is named "No such device"/);
  });
});

describe('hints say the command the way the user can run it', () => {
  test('with appia on PATH the hints say `appia ...`; from a checkout (not on PATH, or via npx) `npx appia ...`', async () => {
    const { id } = await addDevice('Hall PC');
    const installed = await mkdtemp(join(tmpdir(), 'appia-bin-'));
    try {
      await symlink(BIN, join(installed, 'appia'));
      const onPath = await appiaCli(['send', id, '--uri', 'https://example.com'], { PATH: installed });
      const commandId = /^id\s+(\S+)$/m.exec(onPath.stdout)?.[1];
      assert.match(onPath.stdout, new RegExp(`^Follow it with: appia status ${id} ${commandId}$`, 'm'));
      const fromCheckout = await appiaCli(['send', id, '--uri', 'https://example.com']);
      assert.match(fromCheckout.stdout, /^Follow it with: npx appia status /m);
      const viaNpx = await appiaCli(['devices', '--help'], { PATH: installed, npm_command: 'exec' });
      assert.match(viaNpx.stdout, /^Usage: npx appia devices/m);
      const help = await appiaCli(['help', 'devices'], { PATH: installed });
      assert.match(help.stdout, /^Usage: appia devices \[--json\]/m);
    } finally {
      await rm(installed, { recursive: true, force: true });
    }
  });
});

describe('appia send / status / agent', { concurrency: true }, () => {
  test('a command sent while the device is offline is completed by `appia agent --dry-run` when it starts', async () => {
    const { id, token } = await addDevice('Den PC');
    const sent = await appiaCli(['send', id, '--uri', 'https://example.com/?q=a&b=c']);
    assert.equal(sent.code, 0, sent.stderr);
    const commandId = /^id\s+([0-9A-F]{44})$/m.exec(sent.stdout)?.[1];
    assert.ok(commandId, sent.stdout);
    assert.match(sent.stdout, /^status\s+requesting$/m);
    const waiting = await appiaCli(['status', id, commandId]);
    assert.match(waiting.stdout, /^Status\s+requesting$/m);

    const agent = new AgentProcess(['--dry-run'], { APPIA_DEVICE_TOKEN: token });
    try {
      await agent.printed(new RegExp(`completed ${commandId}`));
      assert.match(agent.output, new RegExp(`received  ${commandId}  LaunchUri https://example\\.com/\\?q=a&b=c`));
      assert.match(agent.output, /dry run: would open https:\/\/example\.com\/\?q=a&b=c/);

      const done = await appiaCli(['status', id, commandId]);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /^Status\s+completed$/m);
      assert.match(done.stdout, /^Response payload\s+\{"uri":"https:\/\/example\.com\/\?q=a&b=c","dryRun":true\}$/m);
      const history = done.stdout.split('History\n')[1]!;
      assert.deepEqual(
        history.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]),
        ['requesting', 'sentToTarget', 'executing', 'completed'],
      );
    } finally {
      assert.equal(await agent.stop('SIGINT'), 0);
    }
    assert.match(agent.output, /stopped/);
  });

  test('the agent answers ping and the app services of a --handlers module; an unknown app service fails clearly', async () => {
    const { token } = await addDevice('Garage PC');
    const handlers = join(scratch, 'handlers.mjs');
    await writeFile(handlers, 'export default { async hello(payload, ctx) { return { greeting: `hello ${payload.name}`, command: ctx.id }; } };\n');
    const agent = new AgentProcess(['--handlers', handlers], { APPIA_DEVICE_TOKEN: token });
    try {
      await agent.printed(/ready: .*app services ping, hello/);
      const ping = await appiaCli(['send', 'Garage PC', '--app-service', 'ping', '--package', 'com.example.app', '--payload', '{"n":1}']);
      const hello = await appiaCli(['send', 'Garage PC', '--app-service', 'hello', '--package', 'com.example.app', '--payload', '{"name":"ann"}']);
      const nosuch = await appiaCli(['send', 'Garage PC', '--app-service', 'nosuch', '--package', 'com.example.app', '--json']);
      const [pingId, helloId] = [ping, hello].map((r) => /^id\s+(\S+)$/m.exec(r.stdout)![1]!);
      const nosuchId = JSON.parse(nosuch.stdout).id as string;
      await agent.printed(new RegExp(`completed ${pingId}`));
      await agent.printed(new RegExp(`completed ${helloId}`));
      await agent.printed(new RegExp(`failed    ${nosuchId}  this device has no app service "nosuch" \\(it serves: ping, hello\\)`));

      const pong = JSON.parse((await appiaCli(['status', 'Garage PC', pingId, '--json'])).stdout);
      assert.equal(pong.status, 'completed');
      assert.equal(pong.responsePayload.pong, true);
      assert.deepEqual(pong.responsePayload.payload, { n: 1 });
      assert.ok(!Number.isNaN(Date.parse(pong.responsePayload.time)));
      assert.deepEqual(pong.history.map((h: { status: string }) => h.status), ['requesting', 'sentToTarget', 'executing', 'completed']);
      const greeted = await appiaCli(['status', 'Garage PC', helloId]);
      assert.match(greeted.stdout, new RegExp(`^Response payload\\s+\\{"greeting":"hello ann","command":"${helloId}"\\}$`, 'm'));
      const failed = await appiaCli(['status', 'Garage PC', nosuchId]);
      assert.match(failed.stdout, /^Status\s+executionFailed$/m);
      assert.match(failed.stdout, /^Error\s+this device has no app service "nosuch"/m);
    } finally {
      assert.equal(await agent.stop('SIGTERM'), 0);
    }
  });

  test('an agent with a wrong device token stops at once with a clear error', async () => {
    const agent = new AgentProcess([], { APPIA_DEVICE_TOKEN: 'not-a-device-token' });
    const [code] = await once(agent.child, 'exit');
    assert.equal(code, 1);
    assert.match(agent.output, /the server refused the device token \(HTTP 401/);
  });
});
