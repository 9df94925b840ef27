import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { anyCasing, anyText } from './arbitraries.js';
import { assertGraphRefusal, openArena, parameters, type Arena } from './support.js';

/**
 * Generated query strings and ids against a real server (DESIGN 2): odd
 * `$top`, `$filter`, `$skiptoken`, options that no route supports, ids of
 * every shape in every casing. Nothing answers 5xx, every refusal is a
 * Graph error, and the attacker never reads or changes anything of the
 * victim's, whatever form of the victim's ids they write.
 */
describe('hostile query strings and ids', () => {
  let arena: Arena;
  before(async () => {
    arena = await openArena();
  });
  after(() => arena.stop());

  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const skiptoken = fc.oneof(
    fc.oneof(fc.double(), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => Number(n)), anyText, fc.constant(null)).map((o) => b64({ o })),
    fc.oneof(anyText, fc.stringMatching(/^[0-9A-F]{44}$/)).map((b) => b64({ b })),
    fc.oneof(anyText, fc.constantFrom('{"o":1e300}', '{"o":9223372036854775808}', '{"o":-1}', '{"__proto__":{"o":1}}')).map(b64),
    anyText,
  );
  const filter = fc.oneof(
    fc.tuple(anyCasing('status'), fc.constantFrom('eq', 'ne', 'EQ', 'gt'), fc.oneof(fc.constantFrom('Online', 'offline', 'requesting', 'completed', 'canceled'), anyText)).map(([p, op, v]) => `${p} ${op} '${v}'`),
    anyText,
  );
  const option = fc.oneof(
    fc.tuple(fc.constantFrom('$top', 'top', '$TOP'), fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), anyText)),
    fc.tuple(fc.constantFrom('$filter', 'filter'), filter),
    fc.tuple(fc.constantFrom('$skiptoken', 'SkipToken'), skiptoken),
    fc.tuple(fc.constantFrom('$expand', 'expand'), fc.oneof(fc.constantFrom('responsepayload', 'ResponsePayload', 'responsepayload,responsepayload', 'device', '*'), anyText)),
    fc.tuple(fc.constantFrom('$select', '$orderby', '$count', '$search', '$skip', '$format', '$apply', '$', '$$top', 'lastEventId', 'unrelated'), anyText),
    fc.tuple(anyText, anyText),
  );
  const query = fc.array(option, { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));

  /** an id as an attacker might write one: the victim's (any casing), their own, or anything at all */
  const idOf = (victims: readonly string[], own: readonly string[], shape: RegExp) =>
    fc.oneof(
      fc.constantFrom(...victims).chain((id) => fc.constantFrom(id, id.toUpperCase(), id.toLowerCase(), ` ${id}`, `${id}%20`, `${id}/`)),
      fc.constantFrom(...own),
      fc.stringMatching(shape),
      anyText.map(encodeURIComponent),
      fc.constantFrom('%00', '..', '%2e%2e', '%2F', 'me', '*', '%ff', 'null', '0'),
    );

  test("whatever the attacker writes, no route answers 5xx, and the victim's things are never found or changed", async () => {
    const { victim, attacker } = arena;
    const victimDevices = victim.devices.map((d) => d.id);
    const victimCommands = Object.values(victim.commands).flat();
    const device = idOf(victimDevices, attacker.devices.map((d) => d.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const command = idOf(victimCommands, Object.values(attacker.commands).flat(), /^[0-9A-F]{44}$/);
    const user = fc.constantFrom(victim.user, attacker.user, 'VICTIM', encodeURIComponent('victim/x'), '%00');
    const route = fc.oneof(
      fc.tuple(fc.constant('GET'), fc.constant('/beta/me/devices')),
      fc.tuple(fc.constantFrom('GET', 'DELETE'), device.map((d) => `/beta/me/devices/${d}`)),
      fc.tuple(fc.constant('GET'), device.map((d) => `/v1.0/me/devices/${d}/commands`)),
      fc.tuple(fc.constant('GET'), fc.tuple(device, fc.constantFrom('commands', 'command', 'Commands'), command).map(([d, s, c]) => `/beta/me/devices/${d}/${s}/${c}`)),
      fc.tuple(fc.constant('GET'), fc.tuple(device, command, fc.constantFrom('responsePayload', 'responsepayload', 'history')).map(([d, c, s]) => `/beta/me/devices/${d}/commands/${c}/${s}`)),
      fc.tuple(fc.constant('POST'), fc.tuple(device, command).map(([d, c]) => `/beta/me/devices/${d}/commands/${c}/cancel`)),
      fc.tuple(fc.constant('GET'), fc.tuple(user, device).map(([u, d]) => `/beta/users/${u}/devices/${d}`)),
    );
    const mentionsVictim = (path: string) => [...victimDevices, ...victimCommands].some((id) => path.toLowerCase().includes(id.toLowerCase())) || path.includes(`/users/${victim.user}/`);

    await fc.assert(
      fc.asyncProperty(route, query, async ([method, path], q) => {
        const before = await arena.snapshot([victim]);
        const url = q ? `${path}?${q}` : path;
        const res = await arena.appia.api(attacker.token, method, url);
        assert.ok(res.status < 500, `${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
        if (res.status >= 400) assertGraphRefusal(res, `${method} ${url}`);
        else if (res.status !== 204) assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        if (mentionsVictim(path)) assert.ok(res.status === 404 || res.status === 400, `${method} ${url} reached the victim: ${res.status}`);
        assert.equal(await arena.snapshot([victim]), before, `${method} ${url} changed the victim's things`);
      }),
      parameters(200),
    );
  });

  test('whatever query the owner writes on their own lists, the answer is a page or a Graph error naming an option', async () => {
    const { victim } = arena;
    const path = fc.constantFrom('/beta/me/devices', `/beta/me/devices/${victim.devices[0]!.id}/commands`, `/beta/me/devices/${victim.devices[0]!.id}/commands/${victim.commands[victim.devices[0]!.id]![0]}`);
    await fc.assert(
      fc.asyncProperty(path, query, async (p, q) => {
        const res = await arena.appia.api(victim.token, 'GET', `${p}?${q}`);
        assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `${p}?${q}: ${res.status} ${JSON.stringify(res.body)}`);
        if (res.status !== 200) {
          assertGraphRefusal(res, `${p}?${q}`);
          assert.match(res.body.error.message, /\$|query|filter|top|skiptoken|expand|not found|URL/i);
        }
      }),
      parameters(),
    );
  });
});
