import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { createVerifier } from '../../src/auth/verifier.js';
import { InProcessBus } from '../../src/bus/in-process.js';
import { parseConfig } from '../../src/config.js';
import { CommandCore } from '../../src/core/core.js';
import { connect } from '../../src/device/index.js';
import { buildApp, type App } from '../../src/http/app.js';
import { AppiaMetrics } from '../../src/metrics/metrics.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/store.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/** DESIGN 7: /openapi.json, OpenAPI 3.1 generated from the route schemas, checked against the app itself. */

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const GRAPH = /^\/(beta|v1\.0)\/(?!\$metadata)/i;
/** the WebSocket endpoint is served on the upgrade event, not by a route; the document lists it by hand */
const NOT_A_ROUTE = ['GET /devices/connect'];

/** An app built as the server builds it, with an onRoute hook that sees every route it registers. */
async function appWithRoutes(dataDir: string): Promise<{ app: App; routes: { method: string; url: string; hidden: boolean }[]; store: Store }> {
  // no limit on failed authentications: the test sends every operation without a token
  const config = { ...parseConfig([], {}), dataDir, logLevel: 'silent', authFailureLimit: 0 };
  const store = await openSqliteStore({ path: join(dataDir, 'appia.db'), synchronous: 'NORMAL' });
  const core = new CommandCore({ store, bus: new InProcessBus(), timings: config, log: { warn: () => {}, info: () => {} } });
  const issuer = await openEmbeddedIssuer({ dataDir });
  const verifier = createVerifier({ issuer: issuer.issuer, audience: issuer.audience, keys: { kind: 'local', jwks: () => issuer.jwks() as never } });
  const app = buildApp({ core, auth: { authenticate: (h) => verifier.verify(h) }, wellKnown: issuer, metrics: new AppiaMetrics() }, config);
  const routes: { method: string; url: string; hidden: boolean }[] = [];
  app.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const method of ([] as string[]).concat(route.method)) routes.push({ method, url: route.url, hidden });
  });
  await app.ready();
  return { app, routes, store };
}

/** `/beta/me/devices/:deviceId` -> `/beta/me/devices/{deviceId}` */
const template = (url: string) => url.replace(/:(\w+)/g, '{$1}');

/** every `$ref` in a JSON value */
function refs(value: Json): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [v] : refs(v)));
}

/** the document's component schemas, with refs as TypeBox reads them (`Command`, not `#/components/schemas/Command`) */
const local = (schema: Json) => JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', ''));
const schemaContext = (doc: Json) => local(doc.components.schemas);

describe('GET /openapi.json (DESIGN 7)', () => {
  let dataDir: string;
  let built: Awaited<ReturnType<typeof appWithRoutes>>;
  let doc: Json;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'appia-openapi-'));
    built = await appWithRoutes(dataDir);
    const res = await built.app.inject('/openapi.json');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json();
  });
  after(async () => {
    await built.app.close();
    await built.store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('it is an OpenAPI 3.1 document whose every operation has answers, parameters and resolvable references', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info?.title, 'string');
    assert.equal(typeof doc.info?.version, 'string');
    assert.equal(typeof doc.paths, 'object');
    for (const ref of refs(doc)) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
      assert.ok(name && doc.components.schemas[name], `${ref} resolves`);
    }
    for (const [path, item] of Object.entries<Json>(doc.paths)) {
      assert.match(path, /^\//);
      for (const [method, op] of Object.entries<Json>(item).filter(([m]) => METHODS.includes(m))) {
        const where = `${method.toUpperCase()} ${path}`;
        const codes = Object.keys(op.responses ?? {});
        assert.ok(codes.some((c) => /^(1|2)\d\d$/.test(c)), `${where} documents its success answer`);
        for (const [code, answer] of Object.entries<Json>(op.responses)) {
          assert.match(code, /^([1-5]\d\d|[1-5]XX)$/, where);
          assert.equal(typeof answer.description, 'string', `${where} ${code} has a description`);
          for (const [media, content] of Object.entries<Json>(answer.content ?? {})) assert.ok(content.schema, `${where} ${code} ${media} has a schema`);
        }
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          assert.ok(op.parameters?.some((p: Json) => p.in === 'path' && p.name === name && p.required === true), `${where} declares {${name}}`);
        }
        if (GRAPH.test(path)) {
          for (const code of ['4XX', '5XX']) assert.equal(op.responses[code]?.content?.['application/json']?.schema?.$ref, '#/components/schemas/GraphError', `${where} ${code}`);
          assert.deepEqual(op.security, [{ bearer: [] }], `${where} needs a bearer token`);
        }
      }
    }
  });

  test('every route the app serves is in it with a response schema, and it lists nothing the app does not serve', () => {
    // the web console's files are files, not API: hidden from the document, and they alone
    assert.deepEqual(built.routes.filter((r) => r.hidden && !r.url.startsWith('/console/')), []);
    const routes = built.routes.filter((r) => r.method !== 'HEAD' && !r.hidden);
    const served = routes.map((r) => `${r.method} ${template(r.url)}`);
    assert.ok(served.length > 20);
    const documented = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    assert.deepEqual([...documented].sort(), [...served, ...NOT_A_ROUTE].sort());
    for (const route of routes) {
      const op = doc.paths[template(route.url)][route.method.toLowerCase()];
      const success = Object.entries<Json>(op.responses).filter(([code]) => /^2\d\d$/.test(code));
      assert.ok(success.length > 0, `${route.method} ${route.url}`);
      for (const [code, answer] of success) {
        assert.ok(code === '204' || answer.content, `${route.method} ${route.url} ${code} documents its body`);
      }
    }
  });

  test('without a token, every Graph operation answers 401 in the documented error shape', async () => {
    const context = schemaContext(doc);
    for (const [path, item] of Object.entries<Json>(doc.paths).filter(([p]) => GRAPH.test(p))) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const url = path.replace('{deviceId}', '0e6d1b0c-0000-4000-8000-000000000000').replace(/\{\w+\}/g, 'x');
        const res = await built.app.inject({ method: method.toUpperCase() as 'GET', url });
        assert.equal(res.statusCode, 401, `${method} ${url}`);
        assert.ok(Value.Check(context, { $ref: 'GraphError' }, res.json()), `${method} ${url}: ${res.body}`);
      }
    }
  });
});

describe('answers of real traffic match the schemas /openapi.json gives them', () => {
  let appia: TestAppia;
  before(async () => {
    appia = await startTestAppia();
  });
  after(() => appia.stop());

  test('devices, commands, payloads, history, postbacks, cancel, errors and the system routes', async () => {
    const doc = await (await fetch(`${appia.url}/openapi.json`)).json();
    const context = schemaContext(doc);
    const paths = Object.keys(doc.paths).map((p) => ({ p, re: new RegExp(`^${p.replace(/\$/g, '\\$').replace(/\{\w+\}/g, '[^/]+')}$`, 'i') }));
    const checked = new Set<string>();
    /** the documented schema of this answer, checked against its body */
    const check = async (method: string, url: string, res: Response) => {
      const path = paths.find((x) => x.re.test(url.split('?')[0]!))?.p;
      assert.ok(path, `${method} ${url} is documented`);
      const responses = doc.paths[path][method.toLowerCase()].responses;
      const answer = responses[res.status] ?? responses[`${String(res.status)[0]}XX`];
      assert.ok(answer, `${method} ${path} documents ${res.status}`);
      const text = await res.text();
      checked.add(`${method} ${path} ${res.status}`);
      if (res.status === 204) return assert.equal(text, '');
      const [media, content] = Object.entries<Json>(answer.content)[0]!;
      assert.ok(String(res.headers.get('content-type')).startsWith(media), `${method} ${path} ${res.status} is ${media}`);
      const body = media === 'application/json' ? JSON.parse(text) : text;
      const errors = [...Value.Errors(context, local(content.schema), body)].map((e) => `${e.instancePath} ${e.message}`);
      assert.deepEqual(errors, [], `${method} ${url} ${res.status}: ${text.slice(0, 300)}`);
    };
    const token = await appia.token('alice');
    const call = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await fetch(appia.url + url, init);
      await check(method, url, res.clone());
      return res.status === 204 ? undefined : res.json().catch(() => undefined);
    };

    const registered = await call('POST', '/beta/me/devices', { name: 'desk', kind: 'Desktop' });
    const base = `/beta/me/devices/${registered.id}`;
    const device = await connect({ url: appia.url, token: registered.deviceToken, keepAliveMs: 0, appServices: { ping: async () => ({ pong: true }) } });
    try {
      await call('GET', '/beta/me/devices?$top=1');
      await call('GET', `/v1.0/me/devices/${registered.id}`);
      const done = await call('POST', `${base}/commands`, { type: 'AppService', appServiceName: 'ping', packageFamilyName: 'P', payload: { a: 1 } }, { prefer: 'wait=20' });
      assert.equal(done.status, 'completed');
      await call('GET', `${base}/commands/${done.id}`);
      await call('GET', `${base}/command/${done.id}/responsePayload`);
      await call('GET', `${base}/commands/${done.id}/history`);
      await call('GET', `${base}/commands/${done.id}/postbacks`);
      await call('GET', '/beta/me/postBackSecret');
      await call('POST', '/beta/me/postBackSecret/rotate');
      await call('GET', `${base}/commands?$top=1`);
      await call('POST', `${base}/commands/${done.id}/cancel`);
      await call('GET', `${base}/commands/${'0'.repeat(44)}`);
      await call('POST', `${base}/commands`, { type: 'Nope' });
    } finally {
      await device.close();
    }
    const offline = await call('POST', `${base}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com' } });
    await call('POST', `${base}/commands/${offline.id}/cancel`);
    await call('DELETE', base);
    for (const url of ['/', '/healthz', '/readyz', '/beta/$metadata', '/metrics', '/.well-known/openid-configuration', '/.well-known/jwks.json']) {
      await check('GET', url, await fetch(appia.url + url));
    }
    await check('GET', '/beta/me/devices', await fetch(`${appia.url}/beta/me/devices`));
    // every call above is a distinct route and status
    assert.equal(checked.size, 24, [...checked].join('\n'));
  });
});
