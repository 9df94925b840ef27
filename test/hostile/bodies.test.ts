import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { anyCasing, anyText, cleanObject, identifier, inexactNumber, jsonText, Num, Obj, path, placeAt, renderPath, type Tree } from './arbitraries.js';
import { assertGraphRefusal, openArena, parameters, sendRaw, type Arena } from './support.js';

const CREATE_KEYS = ['type', 'payload', 'appServiceName', 'packageFamilyName', 'permissionTicket', 'postBackUri', 'expirationDateTime'];

/**
 * Generated request bodies against a real server (DESIGN 2, 8): nothing
 * answers 5xx, every refusal is a Graph error naming the problem, a refused
 * request stores nothing, and what is accepted is stored exactly as sent.
 */
describe('hostile bodies', () => {
  let arena: Arena;
  let device: string;
  before(async () => {
    arena = await openArena();
    device = arena.victim.devices[0]!.id;
  });
  after(() => arena.stop());

  const commands = () => `/beta/me/devices/${device}/commands`;
  const appService = (payload: Tree) => new Obj([['type', 'AppService'], ['appServiceName', 'svc'], ['packageFamilyName', 'pkg'], ['payload', payload]]);

  /** sends a body; a refusal must be a Graph error and leave everything as it was */
  async function post(path: string, body: string | Uint8Array, contentType?: string) {
    const before = await arena.snapshot();
    const res = await sendRaw(arena.appia, arena.victim.token, 'POST', path, body, contentType);
    if (res.status >= 300) {
      assertGraphRefusal(res, `POST ${path} ${String(body).slice(0, 200)}`);
      assert.equal(await arena.snapshot(), before, 'a refused request changed what is stored');
    }
    return res;
  }

  test('bytes of any kind, in any declared media type, never make a 5xx, and a refusal stores nothing', async () => {
    const jsonish = fc
      .array(fc.constantFrom('{', '}', '[', ']', ',', ':', '"type"', '"LaunchUri"', '"AppService"', '"payload"', '"uri"', '"https://x.test"', '1e309', '-0', '9007199254740993', 'null', 'true', '"\\ud800"', '"__proto__"', '"Type"', ' ', '"a"', '"\\u0000"'), { maxLength: 40 })
      .map((parts) => parts.join(''));
    const body = fc.oneof(fc.uint8Array({ maxLength: 400 }), anyText, jsonish);
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/json;charset="latin1"', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=');
    const target = fc.constantFrom('commands', 'devices');
    await fc.assert(
      fc.asyncProperty(body, contentType, target, async (b, type, where) => {
        const res = await post(where === 'commands' ? commands() : '/beta/me/devices', b, type);
        assert.ok(res.status < 500);
      }),
      parameters(),
    );
  });

  test('accepted payloads (any Unicode, any keys, exact numbers) are stored exactly as sent', async () => {
    await fc.assert(
      fc.asyncProperty(cleanObject, async (payload) => {
        const text = jsonText(appService(payload));
        const res = await post(commands(), text);
        if (res.status !== 201) return; // refused as a whole (size or depth): checked above
        assert.deepEqual(res.body.payload, JSON.parse(jsonText(payload)));
        const stored = await arena.appia.api(arena.victim.token, 'GET', `${commands()}/${res.body.id}`);
        assert.deepEqual(stored.body.payload, JSON.parse(jsonText(payload)));
      }),
      parameters(),
    );
  });

  test('a number no double holds exactly, anywhere in a payload, is 400 naming its path', async () => {
    await fc.assert(
      fc.asyncProperty(path, inexactNumber, async (at, number) => {
        const res = await post(commands(), jsonText(appService(placeAt(at, number))));
        assert.equal(res.status, 400);
        assert.ok(res.body.error.message.startsWith(`${renderPath('payload', at)} holds the number `), res.body.error.message);
      }),
      parameters(),
    );
  });

  test('__proto__ and constructor, anywhere in a body, are 400 naming where and never reach an object', async () => {
    await fc.assert(
      fc.asyncProperty(path, fc.constantFrom('__proto__', 'constructor'), cleanObject, async (at, key, inner) => {
        const res = await post(commands(), jsonText(appService(placeAt(at, new Obj([[key, inner]])))));
        assert.equal(res.status, 400);
        assert.ok(res.body.error.message.startsWith(`${renderPath('payload', [...at, key])} is a property name that is not accepted`), res.body.error.message);
        assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
      }),
      parameters(),
    );
  });

  test('a body property given twice in different case is 400 naming both spellings', async () => {
    const twoCasings = fc
      .constantFrom(...CREATE_KEYS)
      .chain((key) => fc.tuple(fc.constant(key), anyCasing(key), anyCasing(key)))
      .filter(([, a, b]) => a !== b);
    await fc.assert(
      fc.asyncProperty(twoCasings, async ([key, first, second]) => {
        const res = await post(commands(), jsonText(new Obj([[first, 'LaunchUri'], ['payload', new Obj([['uri', 'https://x.test/']])], [second, 'AppService']])));
        assert.equal(res.status, 400);
        const named = key === 'payload' ? /more than once/ : new RegExp(`property ${key} is given more than once \\(as "${first}" and "${second}"\\)`);
        assert.match(res.body.error.message, named);
      }),
      parameters(),
    );
  });

  test('nesting past APPIA_MAX_JSON_DEPTH, of any shape, is 400 however deep it goes', async () => {
    // up to 1000 levels: the most the 16 KiB body limit of the arena lets through
    const shape = fc.array(fc.oneof(identifier, fc.constant(0)), { minLength: 8, maxLength: 1000 });
    await fc.assert(
      fc.asyncProperty(shape, async (at) => {
        const res = await post(commands(), jsonText(appService(placeAt(at, new Num('1')))));
        assert.equal(res.status, 400);
        assert.match(res.body.error.message, /nests deeper than 8 levels/);
      }),
      parameters(60),
    );
  });

  test('a LaunchUri uri with a control character anywhere is 400 naming payload.uri', async () => {
    const control = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }), fc.constantFrom(0x2028, 0x2029, 0x202e, 0x2066)).map((c) => String.fromCharCode(c));
    const safe = fc.stringMatching(/^[a-z0-9/._~-]{0,12}$/);
    await fc.assert(
      fc.asyncProperty(safe, control, safe, async (a, c, b) => {
        const res = await post(commands(), JSON.stringify({ type: 'LaunchUri', payload: { uri: `https://x.test/${a}${c}${b}` } }));
        assert.equal(res.status, 400);
        assert.match(res.body.error.message, /^payload\.uri holds control characters/);
      }),
      parameters(),
    );
  });

  test('batch bodies (DESIGN 9) of any mix of selections never make a 5xx; a refusal creates nothing, and an accepted batch reaches only the caller\'s own devices', async () => {
    const { victim, attacker } = arena;
    const ids = fc.constantFrom(...victim.devices.map((d) => d.id), victim.devices[0]!.id.toUpperCase(), ...attacker.devices.map((d) => d.id), '00000000-0000-4000-8000-000000000000', 'x', '');
    const value = fc.oneof(fc.array(ids, { maxLength: 4 }), fc.boolean(), anyText, fc.constant(null), fc.integer(), fc.constantFrom('Desktop', 'desktop', 'Phone'));
    const key = fc.oneof(anyCasing('deviceIds'), anyCasing('all'), anyCasing('kind'), fc.constantFrom('type', 'payload', 'extra'));
    const selection = fc.array(fc.tuple(key, value), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(selection, fc.boolean(), async (pairs, launch) => {
        const body: Record<string, unknown> = launch ? { type: 'LaunchUri', payload: { uri: 'https://example.com/x' } } : {};
        for (const [k, v] of pairs) body[k] = v;
        const res = await post('/beta/me/commandBatches', JSON.stringify(body));
        assert.ok(res.status < 500, JSON.stringify(res.body));
        if (res.status !== 201) return;
        const listed = await arena.appia.api(victim.token, 'GET', `/beta/me/commandBatches/${res.body.id}/commands`);
        const own = new Set(victim.devices.map((d) => d.id));
        assert.ok(listed.body.value.length === res.body.total && listed.body.value.every((c: any) => own.has(c.deviceId)), JSON.stringify(body));
      }),
      parameters(),
    );
  });
});
