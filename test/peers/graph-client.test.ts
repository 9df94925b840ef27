import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client, GraphError, PageIterator, RetryHandlerOptions, type PageCollection } from '@microsoft/microsoft-graph-client';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { isFinal } from '../../src/domain/policy.js';
import type { Status } from '../../src/domain/status.js';
import { startTlsAppia, type TlsAppia } from './tls.js';

/**
 * The official Microsoft Graph JavaScript client (3.x), unchanged, against a
 * real Appia over https (DESIGN 2: the client sends its bearer token only
 * over https). Node trusts the test CA through the client's fetch options;
 * certificate verification stays on.
 */

/** A Graph client for `token`, pointed at Appia's beta API (its host listed as one the client may send a token to). */
function graphClient(server: TlsAppia, token: string): Client {
  return Client.init({
    authProvider: (done) => done(null, token),
    baseUrl: server.appia.url,
    defaultVersion: 'beta',
    customHosts: new Set([new URL(server.appia.url).hostname]),
    fetchOptions: { dispatcher: server.dispatcher } as RequestInit,
  });
}

/** how a test awaits a thrown GraphError */
async function graphError(call: Promise<unknown>): Promise<GraphError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof GraphError, `expected a GraphError, got ${String(err)}`);
    return err;
  }
  assert.fail('the call succeeded');
}

describe('the Microsoft Graph JavaScript client against Appia over https', () => {
  let server: TlsAppia;
  let graph: Client;
  let device: { id: string; deviceToken: string };
  const sdkDevices: DeviceConnection[] = [];

  before(async () => {
    server = await startTlsAppia();
    graph = graphClient(server, await server.appia.token('alice'));
    device = await graph.api('/me/devices').post({ name: 'Living room PC', kind: 'Desktop', platform: 'Linux' });
  });
  after(async () => {
    await Promise.all(sdkDevices.map((d) => d.close()));
    await server.stop();
  });

  test('the server certificate is verified: without the test CA, fetch refuses it', async () => {
    await assert.rejects(fetch(`${server.appia.url}/healthz`), (err: Error & { cause?: { code?: string } }) => {
      assert.match(String(err.cause?.code), /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/);
      return true;
    });
  });

  test('the client registers a device and lists it under /me/devices', async () => {
    assert.match(device.id, /^[0-9a-f-]{36}$/);
    assert.match(device.deviceToken, /^appia_dt_/);
    const list = await graph.api('/me/devices').get();
    assert.match(list['@odata.context'], /^https:\/\/127\.0\.0\.1:\d+\/beta\/\$metadata#users\('alice'\)\/devices$/);
    const mine = list.value.find((d: { id: string }) => d.id === device.id);
    assert.equal(mine.name, 'Living room PC');
    assert.equal(mine.kind, 'Desktop');
    const one = await graph.api(`/me/devices/${device.id}`).get();
    assert.equal(one.id, device.id);
  });

  test('LaunchUri and AppService commands made by the client are run by a real SDK device over wss, read until completed, with their response payloads', async () => {
    const opened: string[] = [];
    const sdk = await connect({
      url: server.appia.url,
      token: device.deviceToken,
      ca: server.ca,
      keepAliveMs: 0,
      handlers: { LaunchUri: async (command) => (opened.push(String(command.payload?.['uri'])), { opened: true }) },
      appServices: { ping: async (command) => ({ pong: true, payload: command.payload }) },
    });
    sdkDevices.push(sdk);
    const commands = `/me/devices/${device.id}/commands`;
    const launch = await graph.api(commands).post({ type: 'LaunchUri', payload: { uri: 'https://example.com/welcome' } });
    const ping = await graph.api(commands).post({
      type: 'AppService',
      appServiceName: 'ping',
      packageFamilyName: 'Appia.Agent',
      payload: { hello: 'world' },
    });
    assert.equal(launch.type, 'LaunchUri');
    assert.equal(ping.type, 'AppService');

    for (const created of [launch, ping]) {
      // read its status until it is final, as a Graph app polls; Prefer: wait makes each read wait for a change instead of sleeping
      let command = created;
      while (!isFinal(command.status as Status)) command = await graph.api(`${commands}/${created.id}`).header('Prefer', 'wait=10').get();
      assert.equal(command.status, 'completed');
      assert.equal(command.error, null);
    }
    assert.deepEqual(opened, ['https://example.com/welcome']);

    const answer = await graph.api(`${commands}/${ping.id}/responsePayload`).get();
    assert.match(answer['@odata.context'], /#microsoft\.graph\.PayloadResponse$/);
    assert.equal(answer.pong, true);
    assert.deepEqual(answer.payload, { hello: 'world' });
    const launched = await graph.api(`${commands}/${launch.id}/responsePayload`).get();
    assert.equal(launched.opened, true);
  });

  test('PageIterator walks 25 commands in pages of 10 by @odata.nextLink, newest first, each once', async () => {
    const { id } = await graph.api('/me/devices').post({ name: 'pager' });
    const made: string[] = [];
    for (let i = 0; i < 25; i++) {
      made.push((await graph.api(`/me/devices/${id}/commands`).post({ type: 'LaunchUri', payload: { uri: `https://example.com/${i}` } })).id);
    }
    const first: PageCollection = await graph.api(`/me/devices/${id}/commands`).top(10).get();
    assert.equal(first.value.length, 10);
    assert.match(String(first['@odata.nextLink']), /^https:\/\/127\.0\.0\.1:\d+\/beta\/me\/devices\/.+\$skiptoken=/);
    const seen: string[] = [];
    await new PageIterator(graph, first, (command: { id: string }) => (seen.push(command.id), true)).iterate();
    assert.deepEqual(seen, [...made].reverse());
  });

  test('404 and 403 reach the app as GraphErrors with statusCode, code and the request-id', async () => {
    const missing = await graphError(graph.api(`/me/devices/${randomUUID()}`).get());
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, 'itemNotFound');
    assert.match(String(missing.requestId), /^[0-9a-f-]{36}$/);
    assert.equal(missing.headers?.get('request-id'), missing.requestId);

    const reader = graphClient(server, await server.appia.token('alice', { scopes: ['Device.Read'] }));
    const denied = await graphError(reader.api(`/me/devices/${device.id}/commands`).post({ type: 'LaunchUri', payload: { uri: 'https://example.com' } }));
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.code, 'Authorization_RequestDenied');
    assert.match(String(denied.requestId), /^[0-9a-f-]{36}$/);
    assert.notEqual(denied.requestId, missing.requestId);
  });

  test(
    'a payload written as a JSON string, as in Graph\'s own example, is read as that object',
    async () => {
      const created = await graph
        .api(`/me/devices/${device.id}/commands`)
        .post({ type: 'LaunchUri', payload: JSON.stringify({ uri: 'https://example.com/from-a-string' }) });
      assert.deepEqual(created.payload, { uri: 'https://example.com/from-a-string' });
      const stored = await graph.api(`/me/devices/${device.id}/commands/${created.id}`).get();
      assert.deepEqual(stored.payload, { uri: 'https://example.com/from-a-string' });
    },
  );
});

describe('the Graph client retries a 429 after Retry-After', () => {
  let server: TlsAppia;
  const lines: string[] = [];

  before(async () => {
    // one request per second per user, and the request log captured
    server = await startTlsAppia({ rateLimit: 1, logLevel: 'info' }, { logDestination: { write: (line) => lines.push(line) } });
  });
  after(() => server.stop());

  test('its RetryHandler waits the Retry-After the 429 names, then the retry succeeds', async () => {
    const token = await server.appia.token('bob');
    const graph = graphClient(server, token);
    /** the request log's lines of one client-request-id */
    const answered = (id: string) =>
      lines.map((l) => JSON.parse(l) as { clientRequestId?: string; status: number; time: number; durationMs: number }).filter((l) => l.clientRequestId === id);

    // Use up this second's request, then ask through the client at once; if the second ended in between
    // (no 429 met), try again: the assertion is about what the client does once it meets one.
    for (let round = 1; ; round++) {
      const spend = await server.fetch('/beta/me/devices', { headers: { authorization: `Bearer ${token}` } });
      await spend.arrayBuffer();
      const id = randomUUID();
      // one retry allowed: if the client came back sooner than Retry-After, it would meet a second 429 and fail
      const list = await graph.api('/me/devices').header('client-request-id', id).middlewareOptions([new RetryHandlerOptions(0, 1)]).get();
      assert.deepEqual(list.value, []);
      const seen = answered(id);
      if (seen.length === 1 && round < 5) continue;
      assert.deepEqual(seen.map((l) => l.status), [429, 200], `round ${round}`);
      const [refused, retried] = seen as [(typeof seen)[0], (typeof seen)[0]];
      // the retry arrived at least Retry-After (1 s) after the 429 went out (2 ms for the log clock's whole milliseconds)
      assert.ok(retried.time - retried.durationMs - refused.time >= 1000 - 2, `retried ${retried.time - retried.durationMs - refused.time} ms after the 429`);
      break;
    }
    const metrics = await (await server.fetch('/metrics')).text();
    assert.match(metrics, /appia_http_request_duration_seconds_count\{method="GET",route="\/beta\/me\/devices",status_code="429"\} [1-9]/);
  });
});
