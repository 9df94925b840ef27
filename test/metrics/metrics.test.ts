import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { AppiaMetrics } from '../../src/metrics/metrics.js';
import { sendPostback } from '../../src/postback/sender.js';
import { LogCapture } from '../logs/capture.js';
import { parseMetrics, valueOf, type Sample } from './scrape.js';

/** DESIGN 7: the Prometheus metrics a node serves at /metrics, after real traffic. */

const NAMED_IN_DESIGN = [
  'appia_commands_created_total',
  'appia_commands_final_total',
  'appia_command_duration_seconds',
  'appia_devices_connected',
  'appia_postback_outbox_depth',
  'appia_postback_failures_total',
  'appia_http_request_duration_seconds',
];

async function scrape(appia: TestAppia): Promise<Sample[]> {
  const res = await fetch(`${appia.url}/metrics`);
  assert.equal(res.status, 200);
  return parseMetrics(await res.text());
}

/** a loopback port nothing listens on: postbacks sent there are refused, so they stay in the outbox */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GET /metrics (DESIGN 7)', () => {
  let appia: TestAppia;
  let alice: string;
  const logs = new LogCapture();
  const devices: DeviceConnection[] = [];

  before(async () => {
    appia = await startTestAppia({ logLevel: 'info', postbackAllow: ['127.0.0.1'] }, { logDestination: logs });
    alice = await appia.token('alice');
  });
  after(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await appia.stop();
  });

  test('it answers in Prometheus text format without a token, with every metric DESIGN 7 names and the process defaults', async () => {
    const res = await fetch(`${appia.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of NAMED_IN_DESIGN) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    assert.match(text, /^# TYPE appia_commands_final_total counter$/m);
    assert.match(text, /^# TYPE appia_command_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE appia_devices_connected gauge$/m);
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  test('commands created and finished move the counters and the duration histogram; the connected gauge follows a device', async () => {
    const before = await scrape(appia);
    const online = await appia.addDevice(alice, 'online');
    const offline = await appia.addDevice(alice, 'offline');
    const connected = logs.next((l) => l.msg === 'device connected' && l['deviceId'] === online.id);
    const sdk = await connect({ url: appia.url, token: online.deviceToken, keepAliveMs: 0, appServices: { ping: async () => ({ pong: true }) } });
    devices.push(sdk);
    await connected;
    assert.equal(valueOf(await scrape(appia), 'appia_devices_connected'), 1);

    for (let i = 0; i < 3; i++) {
      const done = await appia.api(alice, 'POST', `/beta/me/devices/${online.id}/commands`, { type: 'AppService', appServiceName: 'ping', packageFamilyName: 'P' }, { prefer: 'wait=20' });
      assert.equal(done.body.status, 'completed');
    }
    const waiting = await appia.api(alice, 'POST', `/beta/me/devices/${offline.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com' } });
    const canceled = await appia.api(alice, 'POST', `/beta/me/devices/${offline.id}/commands/${waiting.body.id}/cancel`);
    assert.equal(canceled.body.status, 'canceled');

    const after = await scrape(appia);
    const moved = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    assert.equal(moved('appia_commands_created_total'), 4);
    assert.equal(moved('appia_commands_final_total', { status: 'completed' }), 3);
    assert.equal(moved('appia_commands_final_total', { status: 'canceled' }), 1);
    assert.equal(moved('appia_command_duration_seconds_count'), 4);
    assert.ok(moved('appia_command_duration_seconds_sum') > 0);
    // every command took less than a day: all four are in the last finite bucket
    assert.equal(moved('appia_command_duration_seconds_bucket', { le: '86400' }), 4);

    const disconnected = logs.next((l) => l.msg === 'device disconnected' && l['deviceId'] === online.id);
    await sdk.close();
    await disconnected;
    assert.equal(valueOf(await scrape(appia), 'appia_devices_connected'), 0);
  });

  test('request durations are labelled by method, route pattern and status code, never by the path', async () => {
    const { id } = await appia.addDevice(alice, 'labels');
    await appia.api(alice, 'GET', `/beta/me/devices/${id}`);
    await appia.api(alice, 'GET', `/beta/me/devices/${id}/commands/${'F'.repeat(44)}`);
    await appia.api(alice, 'GET', `/beta/no/such/${id}`);
    const samples = (await scrape(appia)).filter((s) => s.name === 'appia_http_request_duration_seconds_count');
    const count = (method: string, route: string, status: string) => valueOf(samples, 'appia_http_request_duration_seconds_count', { method, route, status_code: status });
    assert.ok(count('GET', '/beta/me/devices/:deviceId', '200') >= 1);
    assert.ok(count('POST', '/beta/me/devices', '201') >= 1);
    assert.ok(count('GET', '/beta/me/devices/:deviceId/commands/:commandId', '404') >= 1);
    assert.ok(count('GET', '(unmatched)', '404') >= 1);
    const leaked = samples.filter((s) => /[0-9a-f]{8}-|F{44}|\/no\/such/i.test(s.labels['route'] ?? ''));
    assert.deepEqual(leaked, []);
  });

  test('the outbox depth gauge counts the postbacks still waiting to be delivered', async () => {
    const port = await closedPort();
    const { id } = await appia.addDevice(alice, 'postbacks');
    const before = valueOf(await scrape(appia), 'appia_postback_outbox_depth');
    for (let i = 0; i < 2; i++) {
      const created = await appia.api(alice, 'POST', `/beta/me/devices/${id}/commands`, {
        type: 'LaunchUri',
        payload: { uri: 'https://example.com' },
        postBackUri: `http://127.0.0.1:${port}/hook`,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    assert.equal(valueOf(await scrape(appia), 'appia_postback_outbox_depth') - before, 2);
  });

  test('two nodes in one process keep counters of their own', async () => {
    const other = await startTestAppia();
    try {
      const { id } = await appia.addDevice(alice, 'first node only');
      await appia.api(alice, 'POST', `/beta/me/devices/${id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com' } });
      assert.ok(valueOf(await scrape(appia), 'appia_commands_created_total') > 0);
      assert.equal(valueOf(await scrape(other), 'appia_commands_created_total'), 0);
    } finally {
      await other.stop();
    }
  });
});

describe('appia_postback_failures_total reads the postback dispatcher', () => {
  test('a postback its receiver refuses counts as a failed attempt', async () => {
    let attempted!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
    const appia = await startTestAppia(
      { postbackAllow: ['127.0.0.1'] },
      {
        postbacks: {
          // the real sender; the test only hears when an attempt has ended (after the dispatcher has counted it)
          send: async (options) => {
            const outcome = await sendPostback(options);
            setImmediate(attempted);
            return outcome;
          },
        },
      },
    );
    try {
      const alice = await appia.token('alice');
      const { id } = await appia.addDevice(alice, 'hooked');
      const port = await closedPort();
      const created = await appia.api(alice, 'POST', `/beta/me/devices/${id}/commands`, {
        type: 'LaunchUri',
        payload: { uri: 'https://example.com' },
        postBackUri: `http://127.0.0.1:${port}/hook`,
      });
      assert.equal(created.status, 201);
      await firstAttempt;
      const samples = await scrape(appia);
      assert.ok(valueOf(samples, 'appia_postback_failures_total') >= 1);
      assert.equal(valueOf(samples, 'appia_postback_outbox_depth'), 1, 'the refused postback waits for its retry');
    } finally {
      await appia.stop();
    }
  });

  test("it follows the failures the dispatcher's stats report, and never goes down", async () => {
    const metrics = new AppiaMetrics();
    let failures = 3;
    metrics.readFrom({ connectedDevices: () => 0, postbackDepth: async () => 0, postbackFailures: async () => failures });
    const read = async () => valueOf(parseMetrics((await metrics.scrape()).body), 'appia_postback_failures_total');
    assert.equal(await read(), 3);
    failures = 5;
    assert.equal(await read(), 5);
    assert.equal(await read(), 5);
  });
});
