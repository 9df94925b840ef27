import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../src/config.js';
import { connect, DeviceAuthError } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { spawnServer } from '../support/spawn.js';
import { LogCapture, type LogLine } from './capture.js';

/** DESIGN 7: one JSON line per request, device connects and disconnects, shutdown; tokens and secrets never logged. */

/** a raw HTTP/1.1 request, for request targets fetch would never send (a fragment) */
async function rawGet(port: number, target: string, headers: Record<string, string> = {}): Promise<string> {
  const socket = tcpConnect(port, '127.0.0.1');
  const head = Object.entries({ host: '127.0.0.1', connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(`GET ${target} HTTP/1.1\r\n${head.join('')}\r\n`);
  let answer = '';
  socket.on('data', (chunk) => (answer += String(chunk)));
  await new Promise((resolve) => socket.once('close', resolve));
  return answer.split('\r\n')[0]!;
}

describe('logs (DESIGN 7)', () => {
  let appia: TestAppia;
  const logs = new LogCapture();
  const secrets: string[] = [];
  let token: string;

  before(async () => {
    // trace: every line the server can write is captured, not only the info ones
    appia = await startTestAppia({ logLevel: 'trace' }, { logDestination: logs });
    token = await appia.token('alice');
    secrets.push(token);
  });
  after(() => appia.stop());

  const requestLines = () => logs.lines.filter((l) => l.msg === 'request');

  test('each request is one JSON line with its request-id, user, route, status and duration', async () => {
    const { id } = await appia.addDevice(token, 'desk');
    const res = await fetch(`${appia.url}/beta/me/devices/${id}`, { headers: { authorization: `Bearer ${token}`, 'client-request-id': 'abc-123' } });
    assert.equal(res.status, 200);
    const mine = requestLines().filter((l) => l['requestId'] === res.headers.get('request-id'));
    assert.equal(mine.length, 1);
    const [line] = mine as [LogLine];
    assert.equal(line.level, 30);
    assert.equal(line['user'], 'alice');
    assert.equal(line['method'], 'GET');
    assert.equal(line['route'], '/beta/me/devices/:deviceId');
    assert.equal(line['path'], `/beta/me/devices/${id}`);
    assert.equal(line['status'], 200);
    assert.equal(typeof line['durationMs'], 'number');
    assert.equal(line['clientRequestId'], 'abc-123');
    // Fastify's own "incoming request" / "request completed" pair is off: one line per request
    assert.equal(logs.lines.filter((l) => l['requestId'] === line['requestId']).length, 1);

    const refused = await fetch(`${appia.url}/beta/me/devices`);
    const refusedLine = requestLines().find((l) => l['requestId'] === refused.headers.get('request-id'));
    assert.equal(refusedLine?.['status'], 401);
    assert.equal(refusedLine?.['user'], undefined);
  });

  test('device connects and disconnects are logged at info with the device and its user', async () => {
    const { id, deviceToken } = await appia.addDevice(token, 'phone');
    secrets.push(deviceToken);
    const connected = logs.next((l) => l.msg === 'device connected' && l['deviceId'] === id);
    const device = await connect({ url: appia.url, token: deviceToken, keepAliveMs: 0 });
    assert.equal((await connected).level, 30);
    assert.equal((await connected)['userId'], 'alice');
    const disconnected = logs.next((l) => l.msg === 'device disconnected' && l['deviceId'] === id);
    await device.close();
    assert.equal((await disconnected).level, 30);
  });

  test('tokens, device tokens, cookies and secret query values never reach the log, at any level', async () => {
    const { id, deviceToken } = await appia.addDevice(token, 'laptop');
    secrets.push(deviceToken);
    // a device token sent as the subprotocol, and one the server does not know
    const bySubprotocol = await connect({ url: appia.url, token: deviceToken, auth: 'subprotocol', keepAliveMs: 0 });
    await bySubprotocol.close();
    const unknownDeviceToken = `appia_dt_${'Z'.repeat(43)}`;
    secrets.push(unknownDeviceToken);
    await assert.rejects(connect({ url: appia.url, token: unknownDeviceToken, keepAliveMs: 0, reconnect: false }), DeviceAuthError);
    // a token with a broken signature, a cookie, credentials in the query and in a fragment
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${'A'.repeat(86)}`;
    secrets.push(forged, 'COOKIE-SECRET-1', 'QUERY-SECRET-2', 'FRAGMENT-SECRET-3');
    assert.equal((await fetch(`${appia.url}/beta/me/devices`, { headers: { authorization: `Bearer ${forged}` } })).status, 401);
    await fetch(`${appia.url}/beta/me/devices/${id}?access_token=QUERY-SECRET-2&$top=1`, { headers: { authorization: `Bearer ${token}`, cookie: 'session=COOKIE-SECRET-1' } });
    assert.match(await rawGet(appia.port, `/healthz?probe=1#token=FRAGMENT-SECRET-3`), /^HTTP\/1\.1 200/);
    // a body that carries a token field (refused, so it is also an error path)
    await appia.api(token, 'POST', '/beta/me/devices', { name: 'x', token: 'BODY-SECRET-4', deviceToken: deviceToken });
    secrets.push('BODY-SECRET-4');

    const text = logs.all();
    assert.ok(requestLines().length >= 8, 'the requests were logged');
    for (const secret of secrets) assert.equal(text.includes(secret), false, `the log holds ${secret.slice(0, 16)}...`);
    const probe = requestLines().find((l) => String(l['path']).startsWith('/healthz?probe'));
    assert.equal(probe?.['path'], '/healthz?probe=1');
    const query = requestLines().find((l) => String(l['path']).includes('access_token'));
    assert.equal(query?.['path'], `/beta/me/devices/${id}?access_token=[Redacted]&$top=1`);
  });

  test('the postback signing secret never reaches the log', async () => {
    const res = await appia.api(token, 'GET', '/beta/me/postBackSecret');
    assert.equal(res.status, 200);
    const rotated = await appia.api(token, 'POST', '/beta/me/postBackSecret/rotate');
    for (const secret of [res.body.secret, rotated.body.secret]) {
      assert.match(secret, /^whsec_/);
      assert.equal(logs.all().includes(secret), false);
      assert.equal(logs.all().includes(secret.slice('whsec_'.length)), false);
    }
  });
});

describe('shutdown and the log format', () => {
  test('closing a node logs "shutting down" with its reason, then "closed", at info', async () => {
    const logs = new LogCapture();
    const appia = await startTestAppia({ logLevel: 'info' }, { logDestination: logs });
    await appia.close('SIGTERM');
    await rm(appia.dataDir, { recursive: true, force: true });
    const shutdown = logs.lines.find((l) => l.msg === 'shutting down');
    assert.equal(shutdown?.level, 30);
    assert.equal(shutdown?.['reason'], 'SIGTERM');
    const closed = logs.lines.findIndex((l) => l.msg === 'closed');
    assert.ok(closed > logs.lines.indexOf(shutdown!), 'closed comes after shutting down');
  });

  test('--log-format and APPIA_LOG_FORMAT choose json (the default) or pretty; anything else is refused', () => {
    assert.equal(parseConfig([], {}).logFormat, 'json');
    assert.equal(parseConfig(['--log-format', 'pretty'], {}).logFormat, 'pretty');
    assert.equal(parseConfig([], { APPIA_LOG_FORMAT: 'PRETTY' }).logFormat, 'pretty');
    assert.throws(() => parseConfig(['--log-format', 'xml'], {}), (err: Error) => err instanceof ConfigError && /--log-format must be one of json, pretty/.test(err.message));
  });

  test('appia serve --log-format pretty writes lines for people, and logs its shutdown on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'appia-pretty-'));
    const { url, child } = await spawnServer(dataDir, ['--log-level', 'info', '--log-format', 'pretty']);
    let out = '';
    child.stdout!.on('data', (chunk) => (out += String(chunk)));
    try {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = out.split('\n').filter(Boolean);
      assert.ok(lines.some((l) => /INFO: request GET \/healthz 200 [\d.]+ ms$/.test(l)), out);
      assert.ok(lines.some((l) => /INFO.*shutting down/.test(l)), out);
      assert.ok(lines.some((l) => /INFO.*closed/.test(l)), out);
      assert.ok(lines.every((l) => !l.startsWith('{')), 'no JSON lines');
    } finally {
      child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
