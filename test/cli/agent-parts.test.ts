import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import defaultHandlers from '../../src/agent/default-handlers.js';
import { loadHandlersModule } from '../../src/agent/handlers-module.js';
import { escapeForCmd, openerFor, openUri, type Spawn } from '../../src/agent/opener.js';
import { reportLine } from '../../src/agent/agent.js';
import { commandBody } from '../../src/cli/commands/send.js';
import { CliError } from '../../src/cli/cli.js';
import { table } from '../../src/cli/output.js';
import { reconnectDelay } from '../../src/device/backoff.js';
import { completedReport } from '../../src/device/command-runner.js';
import { connectUrl } from '../../src/device/protocol.js';

describe('agent: opening URIs', () => {
  const uri = 'https://example.com/?a=1&b=%PATH%|x';

  test('each platform\'s opener gets the URI as one argument, never a shell string', () => {
    assert.deepEqual(openerFor('linux', uri), { command: 'xdg-open', args: [uri] });
    assert.deepEqual(openerFor('freebsd', uri), { command: 'xdg-open', args: [uri] });
    assert.deepEqual(openerFor('darwin', uri), { command: 'open', args: [uri] });
    const windows = openerFor('win32', uri);
    assert.match(windows.command, /cmd(\.exe)?$/i);
    assert.deepEqual(windows.args.slice(0, 3), ['/d', '/s', '/c']);
    assert.equal(windows.windowsVerbatimArguments, true);
  });

  test('on Windows every cmd metacharacter of the URI is escaped, so & | % cannot start anything', () => {
    assert.equal(escapeForCmd('https://a/?x=1&y=2'), '^"https://a/?x=1^&y=2^"'.replace('?', '^?'));
    const escaped = escapeForCmd(uri);
    for (const ch of ['&', '|', '%']) {
      assert.ok(!new RegExp(`[^^]\\${ch}`).test(escaped), `${ch} is escaped in ${escaped}`);
    }
  });

  function fakeSpawn(behave: (child: EventEmitter) => void): { spawn: Spawn; calls: unknown[][] } {
    const calls: unknown[][] = [];
    const spawn: Spawn = (command, args, options) => {
      calls.push([command, args, options]);
      const child = Object.assign(new EventEmitter(), { unref() {} });
      setImmediate(() => behave(child));
      return child as unknown as ChildProcess;
    };
    return { spawn, calls };
  }

  test('opening succeeds when the opener exits 0, and says why when it is missing or fails', async () => {
    const ok = fakeSpawn((child) => child.emit('exit', 0, null));
    await openUri(uri, { platform: 'linux', spawn: ok.spawn });
    assert.deepEqual(ok.calls[0]!.slice(0, 2), ['xdg-open', [uri]]);
    assert.equal((ok.calls[0]![2] as { shell?: boolean }).shell, undefined);

    const missing = fakeSpawn((child) => child.emit('error', Object.assign(new Error('spawn xdg-open ENOENT'), { code: 'ENOENT' })));
    await assert.rejects(openUri(uri, { platform: 'linux', spawn: missing.spawn }), /xdg-open was not found.*--dry-run/);

    const failing = fakeSpawn((child) => child.emit('exit', 3, null));
    await assert.rejects(openUri(uri, { platform: 'linux', spawn: failing.spawn }), /xdg-open could not open the URI \(exit code 3\)/);
  });

  test('an opener still running (a browser in the foreground) counts as opened', async () => {
    const running = fakeSpawn(() => {});
    await openUri(uri, { platform: 'linux', spawn: running.spawn, settleMs: 10 });
  });
});

describe('agent: app services', () => {
  test('the built-in ping answers pong, the time and the payload it got', async () => {
    const answer = (await defaultHandlers['ping']!({ n: 1 }, undefined as never)) as Record<string, unknown>;
    assert.equal(answer['pong'], true);
    assert.deepEqual(answer['payload'], { n: 1 });
    assert.ok(Math.abs(Date.parse(String(answer['time'])) - Date.now()) < 60_000);
  });

  test('a handlers module may export an object by default or named functions; anything else is refused at load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'appia-handlers-'));
    try {
      const files = {
        byDefault: 'export default { a: async () => ({}), b: async () => ({}) };',
        named: 'export async function c() { return {}; }',
        notFunctions: 'export default { a: 42 };',
        empty: 'export const x = undefined;',
        broken: 'export default {',
      };
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, `${name}.mjs`), text);
      assert.deepEqual(Object.keys(await loadHandlersModule(join(dir, 'byDefault.mjs'))), ['a', 'b']);
      assert.deepEqual(Object.keys(await loadHandlersModule(join(dir, 'named.mjs'))), ['c']);
      await assert.rejects(loadHandlersModule(join(dir, 'notFunctions.mjs')), /exports a, which is not a function/);
      await assert.rejects(loadHandlersModule(join(dir, 'empty.mjs')), /exports x, which is not a function/);
      await assert.rejects(loadHandlersModule(join(dir, 'broken.mjs')), /cannot load the handlers module/);
      await assert.rejects(loadHandlersModule(join(dir, 'nope.mjs')), /cannot load the handlers module/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the agent prints one line per report', () => {
    const command = { id: 'C1', type: 'LaunchUri', payload: { uri: 'https://x.example' }, appServiceName: null, packageFamilyName: null, permissionTicket: null, expirationDateTime: null };
    assert.equal(reportLine({ t: 'received', id: 'C1' }, command), 'received  C1  LaunchUri https://x.example');
    assert.equal(reportLine({ t: 'completed', id: 'C1', responsePayload: { a: 1 } }, command), 'completed C1  {"a":1}');
    assert.equal(reportLine({ t: 'failed', id: 'C1', error: 'boom' }, command), 'failed    C1  boom');
    assert.equal(reportLine({ t: 'state', state: 'standby' }, undefined), undefined);
  });
});

describe('SDK and CLI helpers', () => {
  test('the reconnect delay doubles up to the cap and is jittered within its upper half', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1000 };
    assert.deepEqual([1, 2, 3, 4, 5, 30].map((n) => reconnectDelay(n, options, () => 0.999999)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 5].map((n) => reconnectDelay(n, options, () => 0)), [50, 100, 500]);
  });

  test('a handler\'s answer must be a JSON object; nothing means {}', () => {
    assert.deepEqual(completedReport('X', undefined), { t: 'completed', id: 'X', responsePayload: {} });
    assert.deepEqual(completedReport('X', { at: new Date(0), skip: undefined }), { t: 'completed', id: 'X', responsePayload: { at: '1970-01-01T00:00:00.000Z' } });
    assert.match((completedReport('X', 'text') as { error: string }).error, /not a string/);
    assert.match((completedReport('X', new Date(0)) as { error: string }).error, /not a string/);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.match((completedReport('X', cyclic) as { error: string }).error, /not JSON/);
  });

  test('the device connects to /devices/connect on the server\'s ws(s) URL', () => {
    assert.equal(connectUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/devices/connect');
    assert.equal(connectUrl('https://appia.example/'), 'wss://appia.example/devices/connect');
    assert.equal(connectUrl('wss://appia.example/custom/path'), 'wss://appia.example/custom/path');
    assert.throws(() => connectUrl('ftp://x'), /http\(s\) or ws\(s\)/);
  });

  test('send builds exactly one kind of command from its flags', () => {
    assert.deepEqual(commandBody({ uri: 'https://a' }), { type: 'LaunchUri', payload: { uri: 'https://a' } });
    assert.deepEqual(commandBody({ 'app-service': 'ping', package: 'p', payload: '{"n":1}' }), {
      type: 'AppService',
      appServiceName: 'ping',
      packageFamilyName: 'p',
      payload: { n: 1 },
    });
    assert.throws(() => commandBody({}), CliError);
    assert.throws(() => commandBody({ uri: 'https://a', 'app-service': 'ping' }), /either --uri/);
    assert.throws(() => commandBody({ 'app-service': 'ping' }), /--package PFN/);
    assert.throws(() => commandBody({ 'app-service': 'ping', package: 'p', payload: '{' }), /not valid JSON/);
  });

  test('tables align their columns and show empty cells as -', () => {
    assert.equal(table(['ID', 'NAME', 'SEEN'], [['a', 'Long name', null], ['bbb', 'x', '2020']]), 'ID   NAME       SEEN\na    Long name  -\nbbb  x          2020');
  });
});
