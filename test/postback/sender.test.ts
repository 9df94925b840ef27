// DESIGN 6: one delivery attempt against real HTTP receivers on 127.0.0.1.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { NO_POSTBACK_ALLOW, parsePostbackAllow } from '../../src/postback/allow-list.js';
import { POSTBACK_USER_AGENT, sendPostback, type SendOutcome } from '../../src/postback/sender.js';
import { newPostbackSecret, signPostback } from '../../src/postback/signing.js';
import { closedPort, fakeLookup, startReceiver, type Receiver } from './support.js';

const loopback = parsePostbackAllow('127.0.0.1/32');
const body = JSON.stringify({ id: '01A2', status: 'executing', sequence: 2 });

async function withReceiver(t: { after(fn: () => Promise<void>): void }, respond: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const receiver = await startReceiver(respond);
  t.after(() => receiver.close());
  return receiver;
}

const notDelivered = (outcome: SendOutcome) => {
  assert.equal(outcome.delivered, false, JSON.stringify(outcome));
  return outcome as Extract<SendOutcome, { delivered: false }>;
};

describe('one postback attempt', () => {
  test('when the receiver answers 200, the postback is delivered and the receiver verifies it with standardwebhooks', async (t) => {
    const secret = newPostbackSecret();
    const receiver = await withReceiver(t, (res) => res.writeHead(200).end('ok'));
    const headers = signPostback({ secrets: [secret], webhookId: 'msg_01A2_2', timestamp: new Date(), body });
    const outcome = await sendPostback({ url: `${receiver.origin}/hooks/appia?tenant=7`, body, headers, allow: loopback });
    assert.deepEqual(outcome, { delivered: true, status: 200 });
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0]!;
    assert.equal(got.method, 'POST');
    assert.equal(got.path, '/hooks/appia?tenant=7');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['user-agent'], POSTBACK_USER_AGENT);
    assert.deepEqual(new Webhook(secret).verify(got.body, got.headers), JSON.parse(body));
  });

  test('when the receiver answers 500, the attempt failed, is retried, and says what the receiver said', async (t) => {
    const receiver = await withReceiver(t, (res) => res.writeHead(500).end('{"error":"database down"}\r\n'));
    const outcome = notDelivered(await sendPostback({ url: `${receiver.origin}/`, body, headers: {}, allow: loopback }));
    assert.equal(outcome.status, 500);
    assert.equal(outcome.error, 'HTTP 500 (Internal Server Error): {"error":"database down"}');
    assert.equal(outcome.retry, true);
    assert.equal(outcome.retryAfterMs, undefined);
  });

  test('a 429 with Retry-After in seconds or as an HTTP date tells when to come back', async (t) => {
    const now = Date.UTC(2026, 5, 1, 12, 0, 0);
    const answers = ['7', new Date(now + 90_000).toUTCString(), 'soon'];
    const receiver = await withReceiver(t, (res) => res.writeHead(429, { 'retry-after': answers[receiver.received.length - 1]! }).end());
    const send = () => sendPostback({ url: `${receiver.origin}/`, body, headers: {}, allow: loopback, now: () => now });
    const seconds = notDelivered(await send());
    assert.deepEqual([seconds.status, seconds.retryAfterMs, seconds.retry], [429, 7000, true]);
    assert.equal(notDelivered(await send()).retryAfterMs, 90_000);
    assert.equal(notDelivered(await send()).retryAfterMs, undefined, 'an unreadable Retry-After is ignored');
  });

  test('a redirect is not followed: the attempt fails naming the Location, and the target gets nothing', async (t) => {
    const target = await withReceiver(t, (res) => res.writeHead(200).end());
    const receiver = await withReceiver(t, (res) => res.writeHead(302, { location: `${target.origin}/elsewhere` }).end());
    const outcome = notDelivered(await sendPostback({ url: `${receiver.origin}/`, body, headers: {}, allow: loopback }));
    assert.equal(outcome.status, 302);
    assert.equal(outcome.error, `HTTP 302: redirects are not followed (Location: ${target.origin}/elsewhere)`);
    assert.equal(outcome.retry, true);
    assert.equal(receiver.received.length, 1);
    assert.equal(target.connections, 0);
  });

  test('a receiver that never answers ends the attempt at the response timeout', async (t) => {
    const receiver = await withReceiver(t, () => undefined);
    const outcome = notDelivered(await sendPostback({ url: `${receiver.origin}/`, body, headers: {}, allow: loopback, timeoutMs: 200 }));
    assert.equal(outcome.error, 'no answer within 200 ms');
    assert.equal(outcome.status, undefined);
    assert.equal(outcome.retry, true);
    assert.equal(receiver.received.length, 1, 'the request did arrive');
  });

  test('a host whose name never resolves ends the attempt at the connect timeout', async () => {
    const never = () => new Promise<never>(() => undefined);
    const outcome = notDelivered(await sendPostback({ url: 'https://slow-dns.example.com/', body, headers: {}, allow: NO_POSTBACK_ALLOW, lookup: never, connectTimeoutMs: 100 }));
    assert.equal(outcome.error, 'no connection to slow-dns.example.com within 100 ms');
  });

  test('a closed port fails the attempt as connection refused', async () => {
    const port = await closedPort();
    const outcome = notDelivered(await sendPostback({ url: `http://127.0.0.1:${port}/`, body, headers: {}, allow: loopback }));
    assert.equal(outcome.error, `connection refused (127.0.0.1:${port})`);
    assert.equal(outcome.retry, true);
  });

  test('a receiver that answers forever is read only up to the cap, then the connection is closed', { timeout: 15_000 }, async (t) => {
    let closedEarly: (early: boolean) => void;
    const closed = new Promise<boolean>((resolve) => (closedEarly = resolve));
    const receiver = await withReceiver(t, (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => closedEarly(!res.writableEnded));
      pump();
    });
    // The total timeout is far beyond the test's own: only the cap can end this send in time.
    const outcome = await sendPostback({ url: `${receiver.origin}/`, body, headers: {}, allow: loopback, timeoutMs: 600_000, maxResponseBytes: 4096 });
    assert.deepEqual(outcome, { delivered: true, status: 200 });
    assert.equal(await closed, true, 'the receiver saw the connection close mid-answer');
  });

  test('410 Gone is not retried; other 4xx answers are', async (t) => {
    const statuses = [410, 404, 400, 401];
    const receiver = await withReceiver(t, (res) => res.writeHead(statuses[receiver.received.length - 1]!).end());
    const seen: [number | undefined, boolean][] = [];
    for (let i = 0; i < statuses.length; i++) {
      const outcome = notDelivered(await sendPostback({ url: `${receiver.origin}/`, body, headers: {}, allow: loopback }));
      seen.push([outcome.status, outcome.retry]);
    }
    assert.deepEqual(seen, [[410, false], [404, true], [400, true], [401, true]]);
  });
});

describe('without the loopback allow-list, nothing reaches loopback', () => {
  test('loopback in every spelling is refused before any connection is made', async (t) => {
    const receiver = await withReceiver(t, (res) => res.writeHead(200).end());
    const p = receiver.port;
    const urls = [`http://127.0.0.1:${p}/`, `https://127.0.0.1:${p}/`, `https://localhost:${p}/`, `http://localhost:${p}/`, `https://127.1:${p}/`,
      `https://0x7f000001:${p}/`, `https://2130706433:${p}/`, `https://[::1]:${p}/`, `https://[::ffff:127.0.0.1]:${p}/`];
    for (const url of urls) {
      const outcome = notDelivered(await sendPostback({ url, body, headers: {}, allow: NO_POSTBACK_ALLOW }));
      assert.match(outcome.error, /^postBackUri/, url);
      assert.match(outcome.error, /loopback|must use https/, url);
    }
    assert.equal(receiver.connections, 0);
  });

  test('a name that resolves to loopback at send time is refused, though it looked public when created', async (t) => {
    const receiver = await withReceiver(t, (res) => res.writeHead(200).end());
    const dns = fakeLookup({ 'hooks.example.com': ['127.0.0.1'] });
    const outcome = notDelivered(await sendPostback({ url: `https://hooks.example.com:${receiver.port}/`, body, headers: {}, allow: NO_POSTBACK_ALLOW, lookup: dns }));
    assert.equal(outcome.error, "postBackUri's host hooks.example.com resolves to 127.0.0.1, a loopback address; postbacks go only to public addresses, unless the host is in APPIA_POSTBACK_ALLOW");
    assert.equal(outcome.retry, true, 'DNS may change back');
    assert.deepEqual(dns.asked, ['hooks.example.com']);
    assert.equal(receiver.connections, 0);
  });

  test('an allowed host name is sent to over http through the same pinned lookup', async (t) => {
    const receiver = await withReceiver(t, (res) => res.writeHead(204).end());
    const dns = fakeLookup({ 'receiver.test': ['127.0.0.1'] });
    const outcome = await sendPostback({ url: `http://receiver.test:${receiver.port}/`, body, headers: {}, allow: parsePostbackAllow('receiver.test'), lookup: dns });
    assert.deepEqual(outcome, { delivered: true, status: 204 });
    assert.equal(receiver.received[0]!.headers.host, `receiver.test:${receiver.port}`);
  });
});
