import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { escapeControl } from '../../src/cli/terminal-text.js';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { appiaCli, pathWithoutAppia } from './support.js';

/**
 * DESIGN 4: text from the other side is printed with its control characters
 * escaped. A real device reports a progress text and an error full of
 * terminal escapes; `appia status`, `appia commands` and `send --wait` show
 * them as visible escapes, and no raw control character reaches the output.
 */

// ESC [2J clears the screen, ESC ]0;...BEL retitles the window, CR LF fakes a new line of output.
const HOSTILE_STATUS = 'copying\x1b[2J\x1b]0;pwned\x07\r\nStatus            completed';
const HOSTILE_ERROR = 'disk full\x1b[31m\x07\r\nError             -\x9b1m\x7f';

/** a raw control character: C0 except the line feeds the CLI itself prints, DEL, C1 */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

describe('escaping control characters', () => {
  test('C0, DEL and C1 characters become visible escapes; other text, backslashes included, is unchanged', () => {
    assert.equal(escapeControl('a\x1b[2Jb\x07c\r\nd\te\x00f\x7fg\x9bh'), 'a\\x1b[2Jb\\x07c\\r\\nd\\te\\x00f\\x7fg\\x9bh');
    assert.equal(escapeControl('right-to-left \u202eevil'), 'right-to-left \\u202eevil');
    assert.equal(escapeControl('C:\\path ü 雪 🎉'), 'C:\\path ü 雪 🎉');
    assert.equal(escapeControl(escapeControl('x\x1by')), escapeControl('x\x1by'));
  });
});

describe('appia status shows a device\'s hostile text escaped', () => {
  let appia: TestAppia;
  let env: NodeJS.ProcessEnv;
  let device: DeviceConnection;
  let deviceId: string;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let recorded!: () => void;
  /** the server has recorded the held command's progress */
  const progressRecorded = new Promise<void>((resolve) => (recorded = resolve));

  before(async () => {
    appia = await startTestAppia();
    const token = await appia.token('mallory-victim');
    env = { PATH: await pathWithoutAppia(), APPIA_URL: appia.url, APPIA_TOKEN: token };
    const added = await appia.addDevice(token, 'Office PC');
    deviceId = added.id;
    device = await connect({
      url: appia.url,
      token: added.deviceToken,
      reconnect: false,
      appServices: {
        // reports hostile progress and holds, so the command stays `custom` with that text
        hold: async (_command, ctx) => {
          assert.equal(await ctx.progress(HOSTILE_STATUS), true);
          recorded();
          await released;
          return {};
        },
        fail: async (_command, ctx) => {
          await ctx.progress(HOSTILE_STATUS);
          throw new Error(HOSTILE_ERROR);
        },
      },
    });
  });
  after(async () => {
    release();
    await device.close();
    await appia.stop();
    await rm(env['PATH']!, { recursive: true, force: true });
  });

  async function send(service: string): Promise<string> {
    const res = await appia.api(env['APPIA_TOKEN']!, 'POST', `/beta/me/devices/${deviceId}/commands`, {
      type: 'AppService',
      appServiceName: service,
      packageFamilyName: 'com.example.app',
      payload: {},
    });
    assert.equal(res.status, 201);
    return res.body.id as string;
  }

  /** the command once final (Prefer: wait holds the answer until then) */
  async function final(commandId: string): Promise<{ status: string }> {
    return (await appia.api(env['APPIA_TOKEN']!, 'GET', `/beta/me/devices/${deviceId}/commands/${commandId}`, undefined, { prefer: 'wait=60' })).body;
  }

  test('the custom status and the error are printed escaped, never raw', async () => {
    const held = await send('hold');
    await progressRecorded;
    const failed = await send('fail');
    assert.equal((await final(failed)).status, 'executionFailed');

    const progress = await appiaCli(['status', 'Office PC', held], env);
    assert.equal(progress.code, 0, progress.stderr);
    assert.doesNotMatch(progress.stdout, RAW_CONTROL);
    assert.ok(progress.stdout.includes('Custom status     copying\\x1b[2J\\x1b]0;pwned\\x07\\r\\nStatus            completed'), progress.stdout);
    // the faked "Status completed" stays on the custom status line: the only Status line says custom
    assert.deepEqual(progress.stdout.match(/^Status\s+.*$/gm), ['Status            custom']);

    const error = await appiaCli(['status', 'Office PC', failed], env);
    assert.equal(error.code, 0, error.stderr);
    assert.doesNotMatch(error.stdout, RAW_CONTROL);
    assert.match(error.stdout, /^Error {13}disk full\\x1b\[31m\\x07\\r\\nError {13}-\\x9b1m\\x7f$/m);
    assert.deepEqual(error.stdout.match(/^Error\s+.*$/gm)!.length, 1);

    const list = await appiaCli(['commands', 'Office PC'], env);
    assert.doesNotMatch(list.stdout, RAW_CONTROL);

    // --json stays JSON (the same text when parsed) with no raw control character on the terminal
    const json = await appiaCli(['status', 'Office PC', failed, '--json'], env);
    assert.doesNotMatch(json.stdout, RAW_CONTROL);
    assert.equal(JSON.parse(json.stdout).error, HOSTILE_ERROR);
  });

  test('send --wait prints the status changes and the error escaped', async () => {
    const wait = await appiaCli(['send', 'Office PC', '--app-service', 'fail', '--package', 'com.example.app', '--wait'], env);
    assert.equal(wait.code, 1);
    assert.doesNotMatch(wait.stdout, RAW_CONTROL);
    assert.match(wait.stdout, /^Error\s+disk full\\x1b\[31m\\x07\\r\\n/m);
  });
});
