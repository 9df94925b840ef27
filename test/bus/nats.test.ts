import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { subjects, type BusMessage } from '../../src/bus/bus.js';
import { isAppiaError } from '../../src/domain/errors.js';
import { openNatsBus, reconnectWait, type BusLogger } from '../../src/bus/nats.js';
import { parseNatsUrl } from '../../src/bus/nats-url.js';
import { Inbox } from '../contract/bus-inbox.js';
import { busContract } from '../contract/bus.contract.js';
import { service } from '../support/services.js';
import { OwnNatsServer, ownServerSkip } from './own-nats-server.js';

const nats = await service('nats');
const HANG_GUARD = { timeout: 30_000 };

describe('NATS bus on the shared server', { skip: nats.skip }, () => {
  busContract('NATS, two connections', async () => {
    const a = await openNatsBus({ url: nats.url, name: 'contract-node-a' });
    const b = await openNatsBus({ url: nats.url, name: 'contract-node-b' });
    const raw = await connect({ servers: [...parseNatsUrl(nats.url).servers], name: 'contract-raw' });
    return {
      a,
      b,
      publishRaw: async (subject, bytes) => {
        raw.publish(subject, bytes);
        await raw.flush();
      },
      cleanup: async () => {
        await Promise.all([a.close(), b.close(), raw.close()]);
      },
    };
  });

  test('invalid messages are counted and logged at debug, and never reach a handler', HANG_GUARD, async (t) => {
    const log = new RecordingLog();
    const bus = await openNatsBus({ url: nats.url, log });
    const raw = await connect({ servers: [...parseNatsUrl(nats.url).servers] });
    t.after(() => Promise.all([bus.close(), raw.close()]));
    const subject = subjects.user(`u-${randomUUID()}`);
    const inbox = new Inbox();
    await bus.subscribe(subject, inbox.handler).ready;
    for (const text of ['not json', '{"kind":"nope"}', '{"kind":"deliver","deviceId":"d"}']) raw.publish(subject, text);
    raw.publish(subject, JSON.stringify({ kind: 'deviceRemoved', deviceId: 'd' }));
    assert.deepEqual(await inbox.next(), { kind: 'deviceRemoved', deviceId: 'd' });
    assert.equal(bus.invalidMessages, 3);
    assert.equal(log.lines.filter((l) => l.level === 'debug' && l.message === 'dropped an invalid bus message').length, 3);
  });

  test('a subject not made by `subjects` is refused, so no id can become a wildcard subscription', HANG_GUARD, async (t) => {
    const bus = await openNatsBus({ url: nats.url });
    t.after(() => bus.close());
    for (const subject of ['appia.user.*', 'appia.device.>', 'has space', '', 'a..b']) {
      await assert.rejects(bus.subscribe(subject, () => {}).ready, /not a bus subject/, subject);
      bus.publish(subject, { kind: 'deviceRemoved', deviceId: 'd' });
    }
    await bus.ready();
  });

  test('close() drains: a message published just before close() still reaches the other node', HANG_GUARD, async (t) => {
    const a = await openNatsBus({ url: nats.url });
    const b = await openNatsBus({ url: nats.url });
    t.after(() => Promise.all([a.close(), b.close()]));
    const subject = subjects.device(`d-${randomUUID()}`);
    const inbox = new Inbox();
    await b.subscribe(subject, inbox.handler).ready;
    const last: BusMessage = { kind: 'deliver', deviceId: 'd', commandId: 'the last one' };
    a.publish(subject, last);
    await a.close();
    assert.deepEqual(await inbox.next(), last);
  });
});

describe('NATS bus faults, on a nats-server of our own', { skip: ownServerSkip }, () => {
  test('while NATS is down ready() rejects and publish does not throw; when it is back, ready() resolves again and existing subscriptions get new messages without resubscribing', HANG_GUARD, async (t) => {
    const server = await OwnNatsServer.start();
    t.after(() => server.stop());
    const a = await openNatsBus({ url: server.url, name: 'node-a' });
    const b = await openNatsBus({ url: server.url, name: 'node-b' });
    t.after(() => Promise.all([a.close(), b.close()]));
    const subject = subjects.device('kitchen-tablet');
    const inbox = new Inbox();
    await b.subscribe(subject, inbox.handler).ready;
    a.publish(subject, deliver('before'));
    assert.deepEqual(await inbox.next(), deliver('before'));

    await server.stop();
    await Promise.all([a.whenState('reconnecting'), b.whenState('reconnecting')]);
    await assert.rejects(a.ready(), (err) => isUnavailable(err, `NATS at ${server.url} is disconnected; reconnecting`));
    a.publish(subject, deliver('while down'));
    const madeWhileDown = b.subscribe(subjects.device('another'), () => {});
    await assert.rejects(madeWhileDown.ready, (err) => isUnavailable(err, 'disconnected'));
    madeWhileDown.unsubscribe();

    await server.restart();
    await Promise.all([a.whenState('connected'), b.whenState('connected')]);
    await a.ready();
    await b.ready();
    a.publish(subject, deliver('after'));
    // 'while down' may arrive first or never (DESIGN 1: a lost message only delays)
    let next = await inbox.next();
    while (next.kind === 'deliver' && next.commandId === 'while down') next = await inbox.next();
    assert.deepEqual(next, deliver('after'));
  });

  test('when NATS stops answering, ready() rejects after its timeout instead of hanging /readyz, and recovers', HANG_GUARD, async (t) => {
    const server = await OwnNatsServer.start();
    t.after(() => server.stop());
    const bus = await openNatsBus({ url: server.url, answerTimeoutMs: 1000 });
    t.after(() => bus.close());
    await bus.ready();
    await server.freeze();
    await assert.rejects(bus.ready(), (err) => isUnavailable(err, `NATS at ${server.url} did not answer within 1000 ms`));
    server.thaw();
    await bus.ready();
  });

  test('close() while NATS is down still closes, and ready() then says closed', HANG_GUARD, async (t) => {
    const server = await OwnNatsServer.start();
    t.after(() => server.stop());
    const bus = await openNatsBus({ url: server.url });
    await server.stop();
    await bus.whenState('reconnecting');
    await bus.close();
    assert.equal(bus.state, 'closed');
    await assert.rejects(bus.ready(), (err) => isUnavailable(err, 'the NATS bus is closed'));
  });

  test('user and password in the URL are used, and appear in no log line and no error', HANG_GUARD, async (t) => {
    const server = await OwnNatsServer.start(['--user', 'appia', '--pass', 's3cret-pw']);
    t.after(() => server.stop());
    const log = new RecordingLog();
    const withCredentials = `nats://appia:s3cret-pw@127.0.0.1:${server.port}`;
    const bus = await openNatsBus({ url: withCredentials, log });
    t.after(() => bus.close());
    await bus.ready();
    await server.stop();
    await bus.whenState('reconnecting');
    await server.restart();
    await bus.whenState('connected');
    const refused = await openNatsBus({ url: `nats://appia:wrong-pw@127.0.0.1:${server.port}` }).then(
      () => assert.fail('a wrong password was accepted'),
      (err: Error) => err,
    );
    assert.match(refused.message, new RegExp(`^NATS is not reachable at ${server.url} \\(.*[Aa]uthorization`));
    assert.doesNotMatch(refused.message, /wrong-pw|\n/);
    assert.deepEqual(
      log.lines.map((l) => `${l.level} ${l.message}`),
      ['warn NATS connection lost; reconnecting', 'info NATS connection back'],
    );
    assert.doesNotMatch(JSON.stringify(log.lines), /s3cret-pw/);
  });

  test('a token in the URL (nats://TOKEN@host) is used', HANG_GUARD, async (t) => {
    const server = await OwnNatsServer.start(['--auth', 'tok-123']);
    t.after(() => server.stop());
    const bus = await openNatsBus({ url: `nats://tok-123@127.0.0.1:${server.port}` });
    t.after(() => bus.close());
    await bus.ready();
  });
});

describe('opening the NATS bus', () => {
  test('openNatsBus on a port where nothing listens fails with one line naming the URL, without its credentials', async () => {
    const port = await freePort();
    const err = await openNatsBus({ url: `nats://appia:hunter2@127.0.0.1:${port}` }).then(
      () => assert.fail('connected to a port where nothing listens'),
      (e: Error) => e,
    );
    assert.ok(isAppiaError(err) && err.code === 'unavailable');
    assert.match(err.message, new RegExp(`^NATS is not reachable at nats://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED\\)$`));
    assert.doesNotMatch(err.message, /hunter2|appia@/);
  });

  test('a URL that is not a NATS URL fails with one line that does not echo it', async () => {
    for (const [url, reason] of [
      ['not a url :pw@', /is not a URL/],
      ['http://user:pw@127.0.0.1:4222', /scheme "http:"; expected nats:\/\/ or tls:\/\//],
      ['nats://user:pw@127.0.0.1:4222/appia', /has a path/],
      ['nats://127.0.0.1:4222,nats://', /server 2 of the NATS URL names no host/],
    ] as const) {
      const err = await openNatsBus({ url }).then(() => assert.fail(url), (e: Error) => e);
      assert.match(err.message, reason, url);
      assert.doesNotMatch(err.message, /pw|\n/, url);
    }
  });

  test('the URL is read into servers and credentials; what is shown has no credentials', () => {
    assert.deepEqual(parseNatsUrl('nats://appia:p%40ss@10.0.0.5'), {
      servers: ['10.0.0.5:4222'],
      user: 'appia',
      pass: 'p@ss',
      tls: false,
      shown: 'nats://10.0.0.5:4222',
    });
    assert.deepEqual(parseNatsUrl('tls://tok@[::1]:4333, nats://b:4222'), {
      servers: ['[::1]:4333', 'b:4222'],
      token: 'tok',
      tls: true,
      shown: 'tls://[::1]:4333,nats://b:4222',
    });
  });

  test('reconnect attempts wait 250 ms at first, then longer with jitter, never over 2 s', () => {
    const waits = (random: number) => [0, 1, 2, 3, 4, 20].map((attempt) => reconnectWait(attempt, () => random));
    assert.deepEqual(waits(0), [250, 250, 500, 1000, 1000, 1000]);
    assert.deepEqual(waits(0.999999), [250, 500, 1000, 2000, 2000, 2000]);
  });
});

function deliver(commandId: string): BusMessage {
  return { kind: 'deliver', deviceId: 'kitchen-tablet', commandId };
}

function isUnavailable(err: unknown, text: string): boolean {
  assert.ok(isAppiaError(err), `an AppiaError, got ${String(err)}`);
  assert.equal(err.code, 'unavailable');
  assert.ok(err.message.includes(text), `"${err.message}" says "${text}"`);
  return true;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

class RecordingLog implements BusLogger {
  readonly lines: { level: string; details: object; message: string }[] = [];
  debug = (details: object, message: string) => this.lines.push({ level: 'debug', details, message });
  info = (details: object, message: string) => this.lines.push({ level: 'info', details, message });
  warn = (details: object, message: string) => this.lines.push({ level: 'warn', details, message });
  error = (details: object, message: string) => this.lines.push({ level: 'error', details, message });
}
