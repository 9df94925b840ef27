import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent } from '../../src/agent/agent.js';
import defaultHandlers from '../../src/agent/default-handlers.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * DESIGN 4: what the agent prints about a command (its app service name,
 * payload, URI, the error it ends with) is the sender's text, and reaches
 * the agent's terminal with its control characters escaped.
 */

let appia: TestAppia;
let userToken: string;

before(async () => {
  appia = await startTestAppia();
  userToken = await appia.token('ivan');
});
after(() => appia.stop());

const RAW_CONTROL = /[\x00-\x1f\x7f-\x9f]/;

describe('the agent\'s lines', () => {
  test('an app service name and a payload full of terminal escapes are printed escaped, in every line about the command', async (t) => {
    const { id, deviceToken } = await appia.addDevice(userToken, 'Terminal PC');
    const lines: string[] = [];
    const connection = await startAgent({ server: appia.url, deviceToken, dryRun: true, appServices: defaultHandlers, print: (line) => lines.push(line) });
    t.after(() => connection.close());

    const name = 'ping\x1b]0;owned\x07\r\nready';
    const created = await appia.api(userToken, 'POST', `/beta/me/devices/${id}/commands`, {
      type: 'AppService',
      appServiceName: name,
      packageFamilyName: 'p',
      payload: { note: 'csi \u009b2J del \x7f' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await appia.api(userToken, 'GET', `/beta/me/devices/${id}/commands/${created.body.id}`, undefined, { prefer: 'wait=30' });
    assert.equal(done.body.status, 'executionFailed');

    const about = lines.filter((l) => l.includes(created.body.id));
    assert.equal(about.length, 2, lines.join('\n'));
    for (const line of lines) assert.doesNotMatch(line, RAW_CONTROL, line);
    assert.match(about[0]!, /^received  \S+  AppService ping\\x1b\]0;owned\\x07\\r\\nready \{"note":"csi \\x9b2J del \\x7f"\}$/);
    // the SDK quotes the name as JSON, which escapes it already
    assert.match(about[1]!, /^failed    \S+  this device has no app service "ping\\u001b\]0;owned\\u0007\\r\\nready"/);
  });
});
