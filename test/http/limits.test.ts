import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { GRAPH_ERRORS } from '../../src/http/graph-errors.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { until } from '../gateway/support.js';
import { openEvents, type SseStream } from '../lifecycle-e2e/helpers.js';

/** Sends raw bytes on a fresh connection and resolves with everything the server sent until it closed. */
function rawExchange(appia: TestAppia, write: (socket: Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(appia.port, '127.0.0.1', () => write(socket));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('limits on what a client can hold (DESIGN 8)', () => {
  let appia: TestAppia;
  let alice: string;
  before(async () => {
    appia = await startTestAppia({ requestTimeoutMs: 300, maxStreamsPerUser: 2, maxDevicesPerUser: 3, maxOpenCommands: 1, maxConnections: 40 });
    alice = await appia.token('alice');
  });
  after(() => appia.stop());

  test('a body trickled slower than the request timeout is cut with a 408 in Graph shape, and nothing is stored', async () => {
    const device = await appia.addDevice(alice, 'trickle target');
    const body = JSON.stringify({ type: 'LaunchUri', payload: { uri: 'https://x.test/slow' } });
    const answer = await rawExchange(appia, (socket) => {
      socket.write(
        `POST /beta/me/devices/${device.id}/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
      );
      // the rest never comes; the server must not wait for it forever
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    const json = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.equal(json.error.code, 'requestTimeout');
    assert.match(json.error.innerError['request-id'], /^[0-9a-f-]{36}$/);
    assert.deepEqual((await appia.api(alice, 'GET', `/beta/me/devices/${device.id}/commands`)).body.value, []);
  });

  test('headers that never finish are cut the same way', async () => {
    const answer = await rawExchange(appia, (socket) => socket.write('GET /beta/me/devices HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  test('a user holds at most the stream limit of event streams and Prefer: wait requests; a third is 429 with Retry-After, others are unaffected', async () => {
    const device = await appia.addDevice(alice, 'streams');
    const command = (await appia.api(alice, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/w' } })).body.id;
    const streams: SseStream[] = [];
    try {
      streams.push(await openEvents(appia, alice, '/beta/me/events'));
      streams.push(await openEvents(appia, alice, `/beta/me/devices/${device.id}/commands/${command}/events`));
      assert.deepEqual(streams.map((s) => s.status), [200, 200]);
      const third = await openEvents(appia, alice, '/beta/me/events');
      streams.push(third);
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get('retry-after')) >= 1);
      const wait = await appia.api(alice, 'GET', `/beta/me/devices/${device.id}/commands/${command}`, undefined, { Prefer: 'wait=5' });
      assert.equal(wait.status, 429);
      assert.match(wait.body.error.message, /open event streams and Prefer: wait requests/);
      const before = (await appia.api(alice, 'GET', `/beta/me/devices/${device.id}/commands`)).body.value;
      const create = await appia.api(alice, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/x' } }, { Prefer: 'wait=5' });
      assert.equal(create.status, 429, 'a create that would wait is refused before anything is created');
      assert.deepEqual((await appia.api(alice, 'GET', `/beta/me/devices/${device.id}/commands`)).body.value, before);
      assert.equal((await appia.api(alice, 'GET', `/beta/me/devices/${device.id}/commands/${command}`)).status, 200, 'a read without a wait is fine');
      const bob = await openEvents(appia, await appia.token('bob'), '/beta/me/events');
      streams.push(bob);
      assert.equal(bob.status, 200, "another user's streams are counted apart");

      streams[0]!.close();
      const reopened = await until(async () => {
        const s = await openEvents(appia, alice, '/beta/me/events');
        streams.push(s);
        return s.status === 200 ? s : undefined;
      }, 'a stream slot freed by the closed stream');
      assert.equal(reopened.status, 200);
    } finally {
      for (const s of streams) s.close();
    }
  });

  test('registering a device past the per-user limit is 409 naming it, even when registrations race', async () => {
    const carol = await appia.token('carol');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => appia.api(carol, 'POST', '/beta/me/devices', { name: `d${i}` })));
    assert.equal(results.filter((r) => r.status === 201).length, 3);
    const refused = results.filter((r) => r.status !== 201);
    assert.ok(refused.every((r) => r.status === 409 && r.body.error.code === 'conflict' && /3 devices, the most allowed/.test(r.body.error.message)));
    const listed = (await appia.api(carol, 'GET', '/beta/me/devices')).body.value;
    assert.equal(listed.length, 3);
    assert.equal((await appia.api(carol, 'DELETE', `/beta/me/devices/${listed[0].id}`)).status, 204);
    assert.equal((await appia.api(carol, 'POST', '/beta/me/devices', { name: 'after a removal' })).status, 201);
  });

  test('every 429 carries Retry-After: the rate limit, the open-command limit, failed authentications and the stream limit', async () => {
    const paths: Record<string, () => Promise<{ status: number; headers: Headers; body: any }>> = {
      'open commands per device': async () => {
        const device = await appia.addDevice(await appia.token('dave'), 'full');
        const dave = await appia.token('dave');
        await appia.api(dave, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/1' } });
        return appia.api(dave, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/2' } });
      },
      'streams per user': async () => {
        const erin = await appia.token('erin');
        const open = [await openEvents(appia, erin, '/beta/me/events'), await openEvents(appia, erin, '/beta/me/events'), await openEvents(appia, erin, '/beta/me/events')];
        for (const s of open) s.close();
        return { status: open[2]!.status, headers: open[2]!.headers, body: undefined };
      },
      'requests per user and failed authentications per address': async () => {
        const limited = await startTestAppia({ rateLimit: 2, authFailureLimit: 2 });
        try {
          const token = await limited.token('frank');
          const answers = [];
          for (let i = 0; i < 6; i++) answers.push(await limited.api(token, 'GET', '/beta/me/devices'));
          for (let i = 0; i < 6; i++) answers.push(await limited.api('not.a.token', 'GET', '/beta/me/devices'));
          const limitedOnes = answers.filter((a) => a.status === 429);
          assert.ok(limitedOnes.some((a) => /requests per second/.test(a.body.error.message)));
          assert.ok(limitedOnes.some((a) => /failed authentications/.test(a.body.error.message)));
          assert.ok(limitedOnes.every((a) => Number(a.headers.get('retry-after')) >= 1));
          return limitedOnes[0]!;
        } finally {
          await limited.stop();
        }
      },
    };
    for (const [name, path] of Object.entries(paths)) {
      const res = await path();
      assert.equal(res.status, 429, name);
      assert.ok(Number(res.headers.get('retry-after')) >= 1, `${name}: Retry-After`);
    }
    const every429 = Object.values(GRAPH_ERRORS).filter((e) => e.status === 429);
    assert.ok(every429.every((e) => 'retryAfter' in e && e.retryAfter >= 1), 'every 429 code has a default wait');
  });

  test('connections beyond the cap are dropped at once; a freed slot takes a new one', async () => {
    const capped = await startTestAppia({ maxConnections: 2 });
    const sockets: Socket[] = [];
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect(capped.port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
        sockets.push(s);
      });
    try {
      await open();
      await open();
      const third = await open();
      const dropped = await new Promise<string>((resolve) => {
        let text = '';
        third.on('data', (c) => (text += c));
        third.on('close', () => resolve(text));
        third.on('error', () => undefined);
        third.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      assert.equal(dropped, '', 'the third connection was closed without an answer');
      sockets[0]!.destroy();
      const health = await until(async () => {
        const res = await fetch(`${capped.url}/healthz`).catch(() => undefined);
        return res?.status === 200 ? res : undefined;
      }, 'a connection slot');
      assert.equal(health.status, 200);
    } finally {
      for (const s of sockets) s.destroy();
      await capped.stop();
    }
  });
});
