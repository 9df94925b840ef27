import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { startAgent } from '../../src/agent/agent.js';
import defaultHandlers from '../../src/agent/default-handlers.js';
import { allowedSchemes } from '../../src/agent/scheme-allow-list.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { CliProcess, pathWithoutAppia } from '../cli/support.js';

/**
 * DESIGN 4: the agent opens only URI schemes on its allow-list (https, http,
 * mailto unless --allow-scheme adds more) and fails the rest, naming the
 * scheme and the flag, without ever calling the opener. The real agent
 * against a real server; the opener is a seam that records its calls.
 */

let appia: TestAppia;
let userToken: string;

before(async () => {
  appia = await startTestAppia();
  userToken = await appia.token('owen');
});
after(() => appia.stop());

async function launch(deviceId: string, uri: string): Promise<{ status: string; error: string | null; responsePayload: unknown }> {
  const created = await appia.api(userToken, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'LaunchUri', payload: { uri } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  // Prefer: wait answers once the command is final
  const done = await appia.api(userToken, 'GET', `/beta/me/devices/${deviceId}/commands/${created.body.id}`, undefined, { prefer: 'wait=30' });
  return done.body;
}

/** an in-process agent whose opener records the URIs it was given */
async function agentWithRecordingOpener(name: string, allowSchemes?: ReadonlySet<string>) {
  const { id, deviceToken } = await appia.addDevice(userToken, name);
  const opened: string[] = [];
  const lines: string[] = [];
  const connection = await startAgent({
    server: appia.url,
    deviceToken,
    dryRun: false,
    appServices: defaultHandlers,
    ...(allowSchemes ? { allowSchemes } : {}),
    open: async (uri) => {
      opened.push(uri);
    },
    print: (line) => lines.push(line),
  });
  return { id, opened, lines, connection };
}

describe('the agent\'s URI scheme allow-list', () => {
  test('by default it opens https, http and mailto URIs, and fails file:, javascript:, ms-msdt:, search-ms:, smb: without opening them', async (t) => {
    const agent = await agentWithRecordingOpener('Allow-list PC');
    t.after(() => agent.connection.close());

    const allowed = ['https://example.com/a?b=c', 'http://example.com/', 'mailto:someone@example.com', 'HTTPS://EXAMPLE.COM/upper'];
    for (const uri of allowed) {
      const command = await launch(agent.id, uri);
      assert.equal(command.status, 'completed', `${uri}: ${command.error}`);
      assert.deepEqual(command.responsePayload, { uri });
    }

    const refused = {
      file: 'file:///etc/passwd',
      javascript: 'javascript:alert(1)',
      'ms-msdt': 'ms-msdt:/id PCWDiagnostic /skip force',
      'search-ms': 'search-ms:query=invoice&crumb=location:\\\\127.0.0.1\\share',
      smb: 'smb://127.0.0.1/share',
    };
    for (const [scheme, uri] of Object.entries(refused)) {
      const command = await launch(agent.id, uri);
      assert.equal(command.status, 'executionFailed', uri);
      assert.equal(command.error, `this device does not open ${scheme}: URIs (it opens https, http, mailto); start the agent with --allow-scheme ${scheme} to allow them`);
    }
    assert.deepEqual(agent.opened, allowed);
    assert.ok(agent.lines.some((l) => l.includes('failed') && l.includes('--allow-scheme javascript')), agent.lines.join('\n'));
  });

  test('--allow-scheme adds schemes (any case, with or without the colon); the rest stay refused', async (t) => {
    const agent = await agentWithRecordingOpener('Extra-schemes PC', allowedSchemes(['SMB', 'ssh:,vnc']));
    t.after(() => agent.connection.close());
    assert.equal((await launch(agent.id, 'smb://127.0.0.1/share')).status, 'completed');
    assert.equal((await launch(agent.id, 'ssh://127.0.0.1')).status, 'completed');
    assert.equal((await launch(agent.id, 'file:///etc/passwd')).status, 'executionFailed');
    assert.deepEqual(agent.opened, ['smb://127.0.0.1/share', 'ssh://127.0.0.1']);
  });

  test('appia agent takes --allow-scheme repeated or comma-separated, and refuses a flag that is not a scheme (exit 2)', async (t) => {
    const path = await pathWithoutAppia();
    t.after(() => rm(path, { recursive: true, force: true }));
    const { id, deviceToken } = await appia.addDevice(userToken, 'Flag PC');
    const env = { PATH: path, APPIA_URL: appia.url, APPIA_DEVICE_TOKEN: deviceToken };
    const agent = new CliProcess(['agent', '--dry-run', '--allow-scheme', 'ssh', '--allow-scheme', 'vnc,tel:'], env);
    t.after(() => agent.kill());
    await agent.printed(/ready: serving LaunchUri \(dry run\) for https, http, mailto, ssh, vnc, tel and app services ping/);
    assert.equal((await launch(id, 'tel:+15551234567')).status, 'completed');
    assert.equal((await launch(id, 'vnc://127.0.0.1')).status, 'completed');
    const refused = await launch(id, 'file:///etc/passwd');
    assert.equal(refused.status, 'executionFailed');
    assert.match(refused.error!, /--allow-scheme file/);
    assert.match(agent.output, /dry run: would open tel:\+15551234567/);
    assert.doesNotMatch(agent.output, /would open file:/);
    assert.equal(await agent.stop('SIGTERM'), 0);

    const bad = new CliProcess(['agent', '--allow-scheme', 'not a scheme'], env);
    assert.equal(await bad.exited, 2);
    assert.match(bad.output, /--allow-scheme "not a scheme" is not a URI scheme/);
  });
});
