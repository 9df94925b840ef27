import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { anyText, cleanObject, jsonText } from './arbitraries.js';
import { assertGraphRefusal, parameters, sendRaw } from './support.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * DESIGN 10 against generated input: the device's pairing calls have no
 * token, so anyone can send them anything. No body other than a pairing's
 * own id ever gets a device token, a malformed body is Graph's 400, no guess
 * of a code approves one, and nothing answers 5xx.
 */
describe('pairing calls with generated input', () => {
  let appia: TestAppia;
  let owner: string;
  before(async () => {
    appia = await startTestAppia({ authFailureLimit: 0, pairingGuessLimit: 0, maxBodyBytes: 16384, maxJsonDepth: 8 });
    owner = await appia.token('owner');
  });
  after(() => appia.stop());

  test('any pairing id but the real one is invalid_grant, and no answer carries a token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyText, fc.stringMatching(/^appia_pr_[A-Za-z0-9_-]{43}$/)), async (pairingId) => {
        const res = await sendRaw(appia, '', 'POST', '/devices/pair/token', JSON.stringify({ pairingId }));
        if (pairingId === '') return assertGraphRefusal(res, 'an empty id');
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error, 'invalid_grant');
        assert.equal(res.body.deviceToken, undefined);
      }),
      parameters(),
    );
  });

  test('bodies that are not a registration, or not {"pairingId"}, are refused in Graph\'s shape; none gets a token', async () => {
    await fc.assert(
      fc.asyncProperty(cleanObject, fc.constantFrom('/devices/pair', '/devices/pair/token'), async (body, path) => {
        const text = jsonText(body);
        const given = new Map(Object.entries(JSON.parse(text) as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
        const res = await sendRaw(appia, '', 'POST', path, text);
        if (res.status === 200) {
          // a registration after all: it asked for a name, and got a code
          assert.equal(path, '/devices/pair', text);
          assert.equal(typeof given.get('name'), 'string', text);
          assert.match(res.body.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
        } else if (typeof res.body?.error === 'string') {
          // a poll after all: a made-up id, never a token
          assert.deepEqual([path, res.status, res.body.error, typeof given.get('pairingid')], ['/devices/pair/token', 400, 'invalid_grant', 'string'], text);
        } else {
          assertGraphRefusal(res, `POST ${path} ${text}`);
        }
      }),
      parameters(),
    );
  });

  test('guessed user codes approve nothing and make no device', async () => {
    const { userCode } = (await (await fetch(`${appia.url}/devices/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"target"}' })).json()) as { userCode: string };
    const letters = 'BCDFGHJKLMNPQRSTVWXZ'.split('');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(fc.constantFrom(...letters), { minLength: 8, maxLength: 8 }).map((l) => l.join('')), anyText), async (guess) => {
        fc.pre(guess.replace(/[\s-]/g, '').toUpperCase() !== userCode.replace('-', ''));
        const res = await appia.api(owner, 'POST', '/beta/me/devicePairings', { userCode: guess });
        if (guess === '' || guess.length > 64) return assertGraphRefusal(res, 'an empty code');
        assert.equal(res.status, 404, `${JSON.stringify(guess)}: ${JSON.stringify(res.body)}`);
      }),
      parameters(),
    );
    assert.deepEqual((await appia.api(owner, 'GET', '/beta/me/devices')).body.value, []);
  });
});
