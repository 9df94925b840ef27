import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * DESIGN 2: GET /beta/$metadata is the CSDL (OData v4 XML) document every
 * `@odata.context` of Appia's answers points at.
 */

interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
}

const ENTITY = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
const decode = (text: string) =>
  text.replace(ENTITY, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ?? String.fromCodePoint(Number(e.slice(1).replace(/^x/, '0x'))));

/** A strict reader of the XML subset CSDL uses (declaration, comments, elements, attributes, text); throws on anything malformed. */
function parseXml(text: string): XmlElement {
  const declaration = /^<\?xml\s[^?]*\?>/.exec(text);
  let at = declaration ? declaration[0].length : 0;
  const document: XmlElement = { name: '#document', attrs: {}, children: [] };
  const open: XmlElement[] = [document];
  const token = /<!--[\s\S]*?-->|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  while (at < text.length) {
    token.lastIndex = at;
    const m = token.exec(text);
    if (!m) throw new Error(`not well-formed XML at ${at}: ${text.slice(at, at + 60)}`);
    at = token.lastIndex;
    const [, close, name, attrText, selfClosing, chars] = m;
    if (close) {
      const element = open.pop();
      if (element?.name !== close || open.length === 0) throw new Error(`</${close}> closes <${element?.name}>`);
    } else if (name) {
      const attrs: Record<string, string> = {};
      for (const a of (attrText ?? '').matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) {
        if (a[1]! in attrs) throw new Error(`attribute ${a[1]} twice on <${name}>`);
        if (a[2]!.replace(ENTITY, '').includes('&')) throw new Error(`a bare & in ${a[1]} of <${name}>`);
        attrs[a[1]!] = decode(a[2]!);
      }
      if (open.length === 1 && document.children.length > 0) throw new Error('more than one root element');
      const element: XmlElement = { name, attrs, children: [] };
      open[open.length - 1]!.children.push(element);
      if (!selfClosing) open.push(element);
    } else if (chars && (open.length === 1 ? chars.trim() !== '' : chars.replace(ENTITY, '').includes('&'))) {
      throw new Error(`stray text: ${chars.slice(0, 40)}`);
    }
  }
  if (open.length !== 1) throw new Error(`<${open[open.length - 1]!.name}> is never closed`);
  if (document.children.length !== 1) throw new Error('no root element');
  return document.children[0]!;
}

const all = (e: XmlElement, name: string): XmlElement[] => [...(e.name === name ? [e] : []), ...e.children.flatMap((c) => all(c, name))];

/** The CSDL schema as types and a container, with `graph.` aliases resolved. */
function csdl(root: XmlElement) {
  const [schema] = all(root, 'Schema');
  assert.ok(schema);
  const ns = schema.attrs['Namespace']!;
  const alias = schema.attrs['Alias'];
  const qualified = (name: string) => (alias && name.startsWith(`${alias}.`) ? `${ns}.${name.slice(alias.length + 1)}` : name);
  const types = new Map<string, XmlElement>([...all(schema, 'EntityType'), ...all(schema, 'ComplexType')].map((t) => [`${ns}.${t.attrs['Name']}`, t]));
  /** the members (properties and navigation properties) of a type and of its base types */
  const members = (type: string): Map<string, { kind: string; type: string }> => {
    const t = types.get(qualified(type));
    if (!t) throw new Error(`no type ${type}`);
    const inherited = t.attrs['BaseType'] ? members(t.attrs['BaseType']) : new Map();
    for (const m of t.children.filter((c) => c.name === 'Property' || c.name === 'NavigationProperty')) {
      inherited.set(m.attrs['Name']!, { kind: m.name, type: qualified(m.attrs['Type']!.replace(/^Collection\((.*)\)$/, '$1')) });
    }
    return inherited;
  };
  const [container] = all(schema, 'EntityContainer');
  const roots = new Map(container!.children.map((c) => [c.attrs['Name']!, qualified(c.attrs['EntityType'] ?? c.attrs['Type']!)]));
  /** throws unless the part of an @odata.context after `#` names a type or a path through the model */
  const resolve = (fragment: string): void => {
    if (/^[\w.]+$/.test(fragment) && !roots.has(fragment)) {
      assert.ok(types.has(qualified(fragment)), `no type ${fragment}`);
      return;
    }
    const segments = fragment.split('/');
    const first = /^(\w+)(?:\('[^']*'\))?$/.exec(segments.shift()!);
    let type = first && roots.get(first[1]!);
    assert.ok(type, `no entity set or singleton in ${fragment}`);
    segments.forEach((segment, i) => {
      if (segment === '$entity' && i === segments.length - 1) return;
      const m = /^(\w+)(?:\('[^']*'\))?$/.exec(segment);
      const member = m && members(type!).get(m[1]!);
      assert.ok(member, `${type} has no member ${segment} (in ${fragment})`);
      type = member.type;
    });
  };
  return { ns, types, members, resolve };
}

describe('GET /beta/$metadata (DESIGN 2)', () => {
  let appia: TestAppia;
  let alice: string;
  let device: DeviceConnection;
  /** every answer the tests below collect @odata.context from */
  const answers: Record<string, any> = {};

  before(async () => {
    appia = await startTestAppia();
    alice = await appia.token('alice');
    const registered = await appia.api(alice, 'POST', '/beta/me/devices', { name: 'desk', kind: 'Desktop' });
    const id = registered.body.id;
    device = await connect({ url: appia.url, token: registered.body.deviceToken, keepAliveMs: 0, appServices: { ping: async () => ({ pong: true }) } });
    const base = `/beta/me/devices/${id}`;
    const command = await appia.api(alice, 'POST', `${base}/commands`, { type: 'AppService', appServiceName: 'ping', packageFamilyName: 'P' }, { prefer: 'wait=20' });
    Object.assign(answers, {
      registered: registered.body,
      devices: (await appia.api(alice, 'GET', '/beta/me/devices')).body,
      device: (await appia.api(alice, 'GET', base)).body,
      created: command.body,
      command: (await appia.api(alice, 'GET', `${base}/commands/${command.body.id}`)).body,
      commands: (await appia.api(alice, 'GET', `${base}/commands`)).body,
      payload: (await appia.api(alice, 'GET', `${base}/commands/${command.body.id}/responsePayload`)).body,
      history: (await appia.api(alice, 'GET', `${base}/commands/${command.body.id}/history`)).body,
      v1: (await appia.api(alice, 'GET', `/v1.0/me/devices/${id}`)).body,
    });
    assert.equal(answers['command'].status, 'completed');
  });
  after(async () => {
    await device.close();
    await appia.stop();
  });

  test('it answers application/xml without a token, on /beta and /v1.0, as well-formed CSDL', async () => {
    for (const version of ['beta', 'v1.0']) {
      const res = await fetch(`${appia.url}/${version}/$metadata`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/xml');
      const root = parseXml(await res.text());
      assert.equal(root.name, 'edmx:Edmx');
      assert.equal(root.attrs['xmlns:edmx'], 'http://docs.oasis-open.org/odata/ns/edmx');
      assert.match(String(root.attrs['Version']), /^4\.0/);
      const [schema] = all(root, 'Schema');
      assert.equal(schema?.attrs['Namespace'], 'microsoft.graph');
      assert.equal(schema?.attrs['xmlns'], 'http://docs.oasis-open.org/odata/ns/edm');
    }
    // the reader is strict enough for "well-formed" to mean something
    for (const bad of ['<a><b></a>', '<a x="1" x="2"/>', '<a>&bad</a>', '<a/><b/>', '<a>']) assert.throws(() => parseXml(bad), bad);
  });

  test('device, command and payloadResponse carry every property Appia serves; responsepayload is a navigation property in lower case', async () => {
    const model = csdl(parseXml(await (await fetch(`${appia.url}/beta/$metadata`)).text()));
    const served = (answer: Record<string, unknown>) => Object.keys(answer).filter((k) => !k.startsWith('@odata.'));
    const device = model.members('microsoft.graph.device');
    for (const key of served(answers['registered'])) assert.ok(device.has(key), `device has ${key}`);
    const command = model.members('microsoft.graph.command');
    for (const key of served(answers['command'])) assert.ok(command.has(key), `command has ${key}`);
    assert.deepEqual(command.get('responsepayload'), { kind: 'NavigationProperty', type: 'microsoft.graph.payloadResponse' });
    assert.deepEqual(model.members('microsoft.graph.user').get('devices'), { kind: 'NavigationProperty', type: 'microsoft.graph.device' });
    assert.deepEqual(device.get('commands'), { kind: 'NavigationProperty', type: 'microsoft.graph.command' });
    assert.equal(model.types.get('microsoft.graph.payloadResponse')?.attrs['OpenType'], 'true');
    for (const history of answers['history'].value) {
      const change = model.members('microsoft.graph.commandStatusChange');
      for (const key of Object.keys(history)) assert.ok(change.has(key), `commandStatusChange has ${key}`);
    }
  });

  test("every @odata.context of Appia's answers points at this document and resolves in it", async () => {
    const model = csdl(parseXml(await (await fetch(`${appia.url}/beta/$metadata`)).text()));
    const contexts = Object.entries(answers).map(([what, body]) => [what, String(body['@odata.context'])] as const);
    assert.equal(contexts.length, 9);
    for (const [what, context] of contexts) {
      const [url, fragment] = context.split('#') as [string, string];
      assert.ok(url === `${appia.url}/beta/$metadata` || (what === 'v1' && url === `${appia.url}/v1.0/$metadata`), `${what}: ${context}`);
      assert.doesNotThrow(() => model.resolve(fragment), `${what}: ${fragment}`);
    }
    assert.throws(() => model.resolve("users('alice')/devices('x')/nothing"), /no member nothing/);
    assert.throws(() => model.resolve('microsoft.graph.nothing'), /no type/);
  });
});
