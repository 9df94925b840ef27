import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, DeviceAuthError, type CommandHandler, type ConnectionStatus, type ConnectOptions, type DeviceConnection } from '../../src/device/index.js';
import { FakeGateway, type Received } from './fake-gateway.js';

/**
 * The SDK's side of DESIGN 4, frame by frame, against a scripted gateway on a
 * real socket: receipts, acks, re-sends after a reconnect, duplicates,
 * cancel, standby and a refused token.
 */

const fast = { initialDelayMs: 10, maxDelayMs: 40 };

async function setUp(t: { after(fn: () => Promise<void>): void }, options: Partial<ConnectOptions> = {}, gatewaySetup?: (gw: FakeGateway) => void) {
  const gw = await FakeGateway.start();
  gatewaySetup?.(gw);
  const device = await connect({ url: gw.url, token: 'tok-1', reconnect: fast, keepAliveMs: 0, ...options });
  t.after(async () => {
    await device.close();
    await gw.close();
  });
  return { gw, device };
}

const of = (id: string, type?: string) => (f: Received) => f['id'] === id && (type === undefined || f.t === type);

/** a handler that waits until the test lets it go */
function gated(answer: object = { done: true }) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  const handler: CommandHandler = async () => {
    calls++;
    await gate;
    return answer;
  };
  return { handler, release, calls: () => calls };
}

/** Records status() events; `next(type)` resolves at the next event of that type (or one already seen after `from`). */
function collect(device: DeviceConnection) {
  const events: ConnectionStatus[] = [];
  const waiters: Array<{ type: string; from: number; resolve: () => void }> = [];
  void (async () => {
    for await (const e of device.status()) {
      events.push(e);
      for (const w of [...waiters]) {
        if (events.slice(w.from).some((x) => x.type === w.type)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  })();
  return {
    events,
    next(type: ConnectionStatus['type']): Promise<void> {
      return new Promise((resolve) => waiters.push({ type, from: events.length, resolve }));
    },
  };
}

describe('device SDK: commands and reports', () => {
  test('when a command arrives, the device reports received at once, then the handler\'s answer as completed', async (t) => {
    let seen: Record<string, unknown> | undefined;
    const { gw } = await setUp(t, {
      appServices: {
        echo: async (command, ctx) => {
          seen = { id: ctx.id, appServiceName: ctx.appServiceName, packageFamilyName: ctx.packageFamilyName, aborted: ctx.signal.aborted };
          return { echoed: command.payload };
        },
      },
    });
    gw.sendCommand('C1', { payload: { n: 1 } });
    const completed = await gw.frame(of('C1', 'completed'));
    const received = gw.frames.find(of('C1', 'received'))!;
    assert.equal(gw.upgrades[0]!.headers.authorization, 'Bearer tok-1');
    assert.ok(gw.frames.indexOf(received) < gw.frames.indexOf(completed), 'received comes first');
    assert.deepEqual(completed['responsePayload'], { echoed: { n: 1 } });
    assert.notEqual(received['ref'], completed['ref']);
    assert.deepEqual(seen, { id: 'C1', appServiceName: 'echo', packageFamilyName: 'test.pkg', aborted: false });
  });

  test('a handler that throws, answers with a non-object, or does not exist ends the command failed with a clear error', async (t) => {
    const { gw, device } = await setUp(t, {
      appServices: {
        boom: async () => {
          throw new Error('disk full');
        },
        list: async () => [1, 2] as unknown as object,
        nothing: async () => undefined,
      },
    });
    device.handle('LaunchUri', () => {
      throw new Error('no browser');
    });
    gw.sendCommand('F1', { appServiceName: 'boom' });
    gw.sendCommand('F2', { appServiceName: 'list' });
    gw.sendCommand('F3', { appServiceName: 'nosuch' });
    gw.sendCommand('F4', { type: 'LaunchUri', appServiceName: null, payload: { uri: 'https://example.com' } });
    gw.sendCommand('F5', { appServiceName: 'nothing' });
    assert.equal((await gw.frame(of('F1', 'failed')))['error'], 'disk full');
    assert.match((await gw.frame(of('F2', 'failed')))['error'], /must return a JSON object .*not an array/);
    assert.match((await gw.frame(of('F3', 'failed')))['error'], /no app service "nosuch" \(it serves: boom, list, nothing\)/);
    assert.equal((await gw.frame(of('F4', 'failed')))['error'], 'no browser');
    assert.deepEqual((await gw.frame(of('F5', 'completed')))['responsePayload'], {}, 'nothing returned = {}');
  });

  test('progress goes out as a progress report with customStatus, between received and completed', async (t) => {
    let recorded: boolean | undefined;
    const { gw } = await setUp(t, {
      appServices: {
        echo: async (_command, ctx) => {
          recorded = await ctx.progress('half way');
          return {};
        },
      },
    });
    gw.sendCommand('P1');
    await gw.frame(of('P1', 'completed'));
    assert.deepEqual(
      gw.frames.filter(of('P1')).map((f) => [f.t, f['customStatus']]),
      [
        ['received', undefined],
        ['progress', 'half way'],
        ['completed', undefined],
      ],
    );
    assert.equal(recorded, true, 'progress() resolves true once acked');
  });

  test('handlers and status() readers added right after `await connect()` are in time for commands that were waiting', async (t) => {
    const { gw, device } = await setUp(t, {}, (gw) => {
      gw.greeting = [{ t: 'command', command: { id: 'Q1', type: 'AppService', payload: { a: 1 }, appServiceName: 'echo', packageFamilyName: 'p' } }];
    });
    const { events } = collect(device);
    device.handleAppService('echo', async (command) => ({ got: command.payload }));
    assert.deepEqual((await gw.frame(of('Q1', 'completed')))['responsePayload'], { got: { a: 1 } });
    const reports = events.flatMap((e) => (e.type === 'report' ? [`${e.report.t} ${e.command?.id}`] : []));
    assert.deepEqual(reports.slice(0, 1), ['received Q1']);
  });
});

describe('device SDK: acks, re-sends and duplicates', () => {
  test('after a reconnect, the reports the server did not ack are sent again in order under their refs; acked ones are not', async (t) => {
    let runs = 0;
    const { gw } = await setUp(t, { appServices: { echo: async (c) => (runs++, { id: c.id }) } });
    gw.autoAck = false;
    gw.sendCommand('A1');
    const received1 = await gw.frame(of('A1', 'received'));
    const completed1 = await gw.frame(of('A1', 'completed'));
    gw.ack(received1['ref']);
    gw.sendCommand('A2'); // processed after the ack above: frames on one socket keep their order
    const received2 = await gw.frame(of('A2', 'received'));
    const completed2 = await gw.frame(of('A2', 'completed'));

    gw.autoAck = true;
    await gw.dropConnection();
    await gw.frame((f) => f.connection === 2 && f['ref'] === completed2['ref']);
    assert.deepEqual(
      gw.frames.filter((f) => f.connection === 2).map((f) => f['ref']),
      [completed1['ref'], received2['ref'], completed2['ref']],
    );
    assert.equal(runs, 2);
  });

  test('a command delivered again while its result is unacked is not run twice; its reports go again', async (t) => {
    const echo = gated({ ok: 1 });
    const { gw } = await setUp(t, { appServices: { echo: echo.handler } });
    gw.autoAck = false;
    gw.sendCommand('D1');
    await gw.frame(of('D1', 'received'));
    gw.sendCommand('D1'); // delivered again while running
    await gw.frame((f) => of('D1', 'received')(f) && gw.frames.filter(of('D1', 'received')).length === 2);
    echo.release();
    const completed = await gw.frame(of('D1', 'completed'));

    await gw.dropConnection();
    await gw.connection(2);
    gw.sendCommand('D1'); // the server re-delivers what it has not seen received
    await gw.frame((f) => f.connection === 2 && gw.frames.filter((g) => g.connection === 2 && g.t === 'completed').length === 2);
    assert.equal(echo.calls(), 1, 'the handler ran once');
    assert.ok(gw.frames.filter((f) => f.t === 'completed').every((f) => f['ref'] === completed['ref'] && f['responsePayload'].ok === 1));
  });

  test('a command delivered again after its result was acked is ignored', async (t) => {
    let runs = 0;
    const { gw } = await setUp(t, { appServices: { echo: async () => ({ run: ++runs }) } });
    gw.sendCommand('E1');
    await gw.frame(of('E1', 'completed'));
    gw.sendCommand('E2'); // E1's ack was sent before E2, so it is processed by now
    await gw.frame(of('E2', 'completed'));
    const before = gw.frames.length;
    gw.sendCommand('E1');
    gw.sendCommand('E3');
    await gw.frame(of('E3', 'completed'));
    assert.deepEqual(gw.frames.slice(before).map((f) => f['id']), ['E3', 'E3']);
    assert.equal(runs, 3);
  });

  test('a nack is final for that report: logged, reported in status(), never sent again', async (t) => {
    const warnings: string[] = [];
    const { gw, device } = await setUp(t, { logger: { warn: (m) => warnings.push(m) }, appServices: { echo: async () => ({}) } });
    const { events } = collect(device);
    gw.autoAck = false;
    gw.sendCommand('N1');
    const received = await gw.frame(of('N1', 'received'));
    const completed = await gw.frame(of('N1', 'completed'));
    gw.ack(received['ref']);
    gw.send({ t: 'nack', ref: completed['ref'], error: 'the command is already expired, a final status' });
    gw.send({ t: 'cancel', id: 'PROBE' }); // answered after the nack was handled
    await gw.frame(of('PROBE', 'canceled'));
    gw.autoAck = true;
    await gw.dropConnection();
    await gw.connection(2);
    gw.sendCommand('N2');
    await gw.frame((f) => f.connection === 2 && f['id'] === 'N2' && f.t === 'completed');
    assert.ok(!gw.frames.some((f) => f.connection === 2 && f['ref'] === completed['ref']), 'the refused report is not re-sent');
    assert.match(warnings.join('\n'), /refused the completed report for command N1: the command is already expired/);
    assert.ok(events.some((e) => e.type === 'nack' && e.ref === completed['ref']));
  });

  test('refs are unique: a random prefix per connection object and a counter', async (t) => {
    const { gw, device } = await setUp(t);
    const other = await connect({ url: gw.url, token: 'tok-2', reconnect: fast, keepAliveMs: 0 });
    t.after(() => other.close());
    await device.standby(false);
    await other.standby(false);
    await device.standby(false);
    const refs = gw.frames.map((f) => f['ref'] as string);
    assert.equal(refs.length, 3);
    assert.match(refs[0]!, /^[A-Za-z0-9_-]{12}\.1$/);
    assert.equal(refs[2], `${refs[0]!.split('.')[0]}.2`);
    assert.notEqual(refs[1]!.split('.')[0], refs[0]!.split('.')[0]);
  });
});

describe('device SDK: cancel, standby, drain', () => {
  test('cancel aborts the handler\'s signal and the device reports canceled, not the handler\'s late answer', async (t) => {
    const { gw } = await setUp(t, {
      appServices: {
        stubborn: async (_c, ctx) => {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          return { ignored: 'the cancel' };
        },
        polite: async (_c, ctx) => {
          await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        },
      },
    });
    gw.sendCommand('K1', { appServiceName: 'stubborn' });
    gw.sendCommand('K2', { appServiceName: 'polite' });
    await gw.frame(of('K2', 'received'));
    gw.send({ t: 'cancel', id: 'K1' });
    gw.send({ t: 'cancel', id: 'K2' });
    gw.send({ t: 'cancel', id: 'UNKNOWN' });
    await gw.frame(of('K1', 'canceled'));
    await gw.frame(of('K2', 'canceled'));
    await gw.frame(of('UNKNOWN', 'canceled'));
    assert.deepEqual(gw.frames.filter((f) => ['K1', 'K2'].includes(f['id'])).map((f) => f.t).sort(), ['canceled', 'canceled', 'received', 'received']);
  });

  test('in standby, new commands are dropped without running; the state is re-sent after a reconnect', async (t) => {
    let runs = 0;
    const { gw, device } = await setUp(t, { appServices: { echo: async () => (runs++, {}) } });
    await device.standby(true);
    assert.equal(device.isStandby, true);
    gw.sendCommand('S1');
    await gw.frame(of('S1', 'dropped'));
    await gw.dropConnection();
    await gw.frame((f) => f.connection === 2 && f.t === 'state' && f['state'] === 'standby');
    await device.standby(false);
    gw.sendCommand('S2');
    await gw.frame(of('S2', 'completed'));
    assert.equal(runs, 1);
    assert.deepEqual(gw.frames.filter(of('S1')).map((f) => f.t), ['dropped']);
  });

  test('drain lets running handlers finish and waits for their acks, takes no new commands, then closes', async (t) => {
    const slow = gated({ finished: true });
    const { gw, device } = await setUp(t, { appServices: { echo: slow.handler } });
    gw.sendCommand('W1');
    await gw.frame(of('W1', 'received'));
    const drained = device.drain();
    gw.sendCommand('W2');
    gw.send({ t: 'cancel', id: 'PROBE' }); // answered after W2 was handled
    await gw.frame(of('PROBE', 'canceled'));
    slow.release();
    await drained;
    assert.equal(await device.closed(), undefined);
    assert.deepEqual((await gw.frame(of('W1', 'completed')))['responsePayload'], { finished: true });
    assert.ok(!gw.frames.some(of('W2')), 'W2 is left for the next connection');
    assert.equal(slow.calls(), 1);
  });
});

describe('device SDK: connecting', () => {
  test('a refused token (401) rejects connect() with a clear error and is not retried', async (t) => {
    const gw = await FakeGateway.start();
    t.after(() => gw.close());
    gw.refuseWith = 401;
    await assert.rejects(connect({ url: gw.url, token: 'wrong', reconnect: fast }), (err: unknown) => {
      assert.ok(err instanceof DeviceAuthError);
      assert.match(err.message, /refused the device token \(HTTP 401: the device token is unknown or revoked\)/);
      return true;
    });
    assert.equal(gw.upgrades.length, 1);
  });

  test('a token refused on reconnect (device removed) closes the connection for good with that error', async (t) => {
    const { gw, device } = await setUp(t);
    const { events } = collect(device);
    gw.refuseWith = 401;
    await gw.dropConnection();
    const error = await device.closed();
    assert.ok(error instanceof DeviceAuthError);
    assert.equal(gw.upgrades.length, 2);
    assert.deepEqual(events.map((e) => e.type), ['disconnected', 'reconnecting', 'closed']);
  });

  test('a server that is not ready (503) is retried with backoff until it accepts', async (t) => {
    const gw = await FakeGateway.start();
    t.after(() => gw.close());
    gw.refuseWith = 503;
    const connecting = connect({ url: gw.url, token: 'tok', reconnect: fast, keepAliveMs: 0 });
    await gw.upgradeCount(3);
    gw.refuseWith = undefined;
    const device = await connecting;
    t.after(() => device.close());
    assert.equal(device.isConnected, true);
  });

  test('the token can come from a provider, asked before each attempt, and go as the subprotocol', async (t) => {
    let n = 0;
    const { gw } = await setUp(t, { token: async () => `tok-${++n}`, auth: 'subprotocol' });
    await gw.dropConnection();
    await gw.connection(2);
    assert.deepEqual(
      gw.upgrades.map((u) => [u.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim()), u.headers.authorization]),
      [
        [['appia.v1', 'token.tok-1'], undefined],
        [['appia.v1', 'token.tok-2'], undefined],
      ],
    );
  });

  test('status() tells of disconnects and reconnects; close() ends it', async (t) => {
    const { gw, device } = await setUp(t);
    const { events, next } = collect(device);
    const reconnected = next('connected');
    await gw.dropConnection();
    await reconnected;
    await device.close();
    assert.deepEqual(
      events.map((e) => e.type),
      ['disconnected', 'reconnecting', 'connected', 'disconnected', 'closed'],
    );
    assert.equal((events[2] as { reconnect: boolean }).reconnect, true);
  });
});
