import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * DESIGN 2: what a client sends is stored exactly as it meant it, or refused
 * naming the problem, and a refusal stores nothing.
 */
describe('bodies are kept exactly or refused', () => {
  let appia: TestAppia;
  let alice: string;
  let device: string;
  before(async () => {
    appia = await startTestAppia();
    alice = await appia.token('alice');
    device = (await appia.addDevice(alice)).id;
  });
  after(() => appia.stop());

  const commands = () => `/beta/me/devices/${device}/commands`;
  const stored = async () => (await appia.api(alice, 'GET', commands())).body.value;
  const send = (body: string | Uint8Array, contentType = 'application/json') =>
    fetch(`${appia.url}${commands()}`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': contentType }, body: body as BodyInit }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }));
  const appService = (payload: string) => `{"type":"AppService","appServiceName":"svc","packageFamilyName":"pkg","payload":${payload}}`;

  async function refused(body: string | Uint8Array, message: RegExp, contentType?: string): Promise<void> {
    const before = await stored();
    const res = await send(body, contentType);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'BadRequest');
    assert.match(res.body.error.message, message);
    assert.deepEqual(await stored(), before, 'nothing was stored');
  }

  test('a number a double cannot hold exactly is refused naming the field, never stored as null or rounded', async () => {
    await refused(appService('{"big":1e309}'), /^payload\.big holds the number 1e309, which cannot be kept exactly/);
    await refused(appService('{"list":[1,2,-1e400]}'), /^payload\.list\[2\] holds the number -1e400/);
    await refused(appService('{"id":9007199254740993}'), /^payload\.id holds the number 9007199254740993/);
    await refused(appService('{"id":12345678901234567890}'), /payload\.id holds the number 12345678901234567890/);
    await refused(appService('{"x":0.10000000000000000001}'), /payload\.x holds the number/);
    await refused(appService('{"tiny":1e-400}'), /payload\.tiny/);
  });

  test('numbers a double holds exactly are stored as the same values', async () => {
    const res = await send(appService('{"a":1e300,"b":-0.5,"c":9007199254740991,"d":1.5e-7,"e":0.1,"f":1E2,"g":-12}'));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.payload, { a: 1e300, b: -0.5, c: 9007199254740991, d: 1.5e-7, e: 0.1, f: 100, g: -12 });
  });

  test('a body that is not UTF-8, or declares another charset, is refused naming it', async () => {
    const valid = Buffer.from(appService('{"name":"caf\u00e9"}'));
    const broken = Buffer.concat([valid.subarray(0, valid.length - 4), Buffer.from([0xff, 0xfe]), valid.subarray(valid.length - 4)]);
    await refused(broken, /not valid UTF-8/);
    const overlong = Buffer.from(appService('{"slash":"\u0000"}').replace('\u0000', 'X'));
    overlong[overlong.indexOf('X'.charCodeAt(0))] = 0xc0; // C0 AF: an overlong '/'
    await refused(Buffer.concat([overlong.subarray(0, overlong.indexOf(0xc0) + 1), Buffer.from([0xaf]), overlong.subarray(overlong.indexOf(0xc0) + 1)]), /not valid UTF-8/);
    await refused(Buffer.from(appService('{"a":1}'), 'utf16le'), /charset=utf-16/, 'application/json; charset=utf-16');
    await refused(appService('{"a":1}'), /charset=latin1/, 'application/json;charset="latin1"');
    const utf8 = await send(valid, 'application/json; charset=UTF-8');
    assert.equal(utf8.status, 201);
    assert.deepEqual(utf8.body.payload, { name: 'caf\u00e9' });
  });

  test('a string escape that is not Unicode text (a lone surrogate) is refused instead of stored as U+FFFD', async () => {
    await refused(appService('{"s":"\\ud800"}'), /payload\.s holds a lone surrogate \\ud800/);
    await refused(appService('{"s":"\\udc00x"}'), /lone surrogate/);
    const pair = await send(appService('{"s":"\\ud83d\\ude00"}'));
    assert.equal(pair.status, 201);
    assert.equal(pair.body.payload.s, '\u{1F600}');
  });

  test('a property given twice, or twice in different case where names are matched without case, is refused naming both', async () => {
    await refused('{"type":"LaunchUri","Type":"AppService","payload":{"uri":"https://x.test"}}', /property type is given more than once \(as "type" and "Type"\)/);
    await refused('{"type":"LaunchUri","type":"LaunchUri","payload":{"uri":"https://x.test"}}', /^type is given more than once/);
    await refused(appService('{"k":1,"k":2}'), /^payload\.k is given more than once/);
    const caseInPayload = await send(appService('{"k":1,"K":2}'));
    assert.equal(caseInPayload.status, 201, 'inside a payload, keys are the app service\'s own and keep their case');
    assert.deepEqual(caseInPayload.body.payload, { k: 1, K: 2 });
  });

  test('__proto__ and constructor never reach an object, wherever they are', async () => {
    await refused(appService('{"__proto__":{"polluted":true}}'), /payload\.__proto__ is a property name that is not accepted/);
    await refused(appService('{"deep":[{"constructor":{"prototype":{"polluted":true}}}]}'), /payload\.deep\[0\]\.constructor/);
    await refused('{"__proto__":{"type":"LaunchUri"},"payload":{"uri":"https://x.test"}}', /__proto__/);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('a payload given as a string holding a JSON object is that object; any other string is 400', async () => {
    const res = await send(JSON.stringify({ type: 'AppService', appServiceName: 'svc', packageFamilyName: 'pkg', payload: '{"hello":"world","n":2}' }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.payload, { hello: 'world', n: 2 });
    const launch = await send(JSON.stringify({ type: 'LaunchUri', payload: '{"uri":"https://x.test/s"}' }));
    assert.equal(launch.status, 201);
    assert.deepEqual(launch.body.payload, { uri: 'https://x.test/s' });
    await refused(JSON.stringify({ type: 'LaunchUri', payload: 'payload-JSON' }), /payload must be a JSON object, or a string that holds one/);
    await refused(JSON.stringify({ type: 'LaunchUri', payload: '[1,2]' }), /payload must be a JSON object/);
    await refused(JSON.stringify({ type: 'LaunchUri', payload: '"https://x.test"' }), /payload must be a JSON object/);
    await refused(JSON.stringify({ type: 'AppService', appServiceName: 's', packageFamilyName: 'p', payload: '{"n":1e309}' }), /^payload\.n holds the number 1e309/);
    await refused(JSON.stringify({ type: 'AppService', appServiceName: 's', packageFamilyName: 'p', payload: '{"n":' }), /payload is not valid JSON/);
  });

  test('a LaunchUri whose uri holds control characters is refused naming payload.uri', async () => {
    for (const uri of ['https://x.test/\u001b[31mred', 'https://x.test/\u0007', 'https://x.test/a\r\nSet-Cookie: x', 'https://x.test/\tq', 'https://x.test/\u009b', 'https://x.test/\u202eevil', 'https://x.test/\u0000']) {
      await refused(JSON.stringify({ type: 'LaunchUri', payload: { uri } }), /payload\.uri holds control characters/);
    }
    const fine = await send(JSON.stringify({ type: 'LaunchUri', payload: { uri: 'https://x.test/%1B%07?q=caf%C3%A9' } }));
    assert.equal(fine.status, 201);
  });

  test('an Idempotency-Key reused with another body, or on another device, is 422 naming the key, never the first command', async () => {
    const other = (await appia.addDevice(alice, 'other')).id;
    const body = { type: 'LaunchUri', payload: { uri: 'https://x.test/once' } };
    const key = { 'Idempotency-Key': 'order-7' };
    const first = await appia.api(alice, 'POST', commands(), body, key);
    assert.equal(first.status, 201);
    const before = await stored();
    for (const [what, path, again] of [
      ['another body', commands(), { type: 'LaunchUri', payload: { uri: 'https://x.test/twice' } }],
      ['another device', `/beta/me/devices/${other}/commands`, body],
    ] as const) {
      const res = await appia.api(alice, 'POST', path, again, key);
      assert.equal(res.status, 422, what);
      assert.equal(res.body.error.code, 'unprocessableEntity');
      assert.match(res.body.error.message, /order-7/);
      assert.ok(!JSON.stringify(res.body).includes(first.body.id), `${what}: the first command is not given away`);
    }
    assert.deepEqual(await stored(), before);
    assert.deepEqual((await appia.api(alice, 'GET', `/beta/me/devices/${other}/commands`)).body.value, []);
    const replay = await appia.api(alice, 'POST', commands(), body, key);
    assert.equal(replay.status, 201);
    assert.equal(replay.body.id, first.body.id);
  });
});
