import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice, createCommand, historyOf, type Frame, type TestDevice } from './support.js';

const MAX_PAYLOAD = 1024;

// DESIGN 4: a frame that cannot be parsed or is refused gets a nack; the connection stays open and nothing changes.
describe('device gateway: malformed and hostile frames', () => {
  let appia: TestAppia;
  let user: string;
  let deviceId: string;
  let device: TestDevice;
  /** executing (received, no outcome yet) */
  let executing: string;
  /** completed straight from sentToTarget: its history never shows executing */
  let completed: string;
  /** a command of another user's device */
  let foreign: string;
  let mallory: { token: string; deviceId: string };

  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0, maxPayloadBytes: MAX_PAYLOAD, maxJsonDepth: 8 });
    user = await appia.token('carol');
    const mine = await appia.addDevice(user);
    deviceId = mine.id;
    device = await connectDevice(appia, mine.deviceToken);
    executing = await createCommand(appia, user, deviceId);
    completed = await createCommand(appia, user, deviceId);
    await device.command();
    await device.command();
    assert.equal((await device.report({ t: 'received', id: executing })).t, 'ack');
    assert.equal((await device.report({ t: 'completed', id: completed, responsePayload: { ok: true } })).t, 'ack');
    const token = await appia.token('mallory');
    mallory = { token, deviceId: (await appia.addDevice(token)).id };
    foreign = await createCommand(appia, token, mallory.deviceId);
  });
  after(async () => {
    await device.close();
    await appia.stop();
  });

  async function storedState(): Promise<unknown> {
    return {
      executing: await historyOf(appia, user, deviceId, executing),
      completed: await historyOf(appia, user, deviceId, completed),
      payload: (await appia.api(user, 'GET', `/beta/me/devices/${deviceId}/commands/${completed}/responsePayload`)).body,
      device: (await appia.api(user, 'GET', `/beta/me/devices/${deviceId}`)).body.status,
      foreign: await historyOf(appia, mallory.token, mallory.deviceId, foreign),
    };
  }

  const deep = (levels: number): unknown => (levels === 0 ? 1 : { a: deep(levels - 1) });
  const cases: Array<{ name: string; send: () => Promise<Frame>; ref: unknown; error: RegExp }> = [
    { name: 'bad JSON', send: () => device.sendRaw('{"t":"received",'), ref: null, error: /not valid UTF-8 JSON/ },
    { name: 'an array', send: () => device.sendRaw('[{"t":"received"}]'), ref: null, error: /JSON object/ },
    { name: 'a bare string', send: () => device.sendRaw('"received"'), ref: null, error: /JSON object/ },
    { name: 'an unknown t', send: () => device.report({ t: 'reboot', ref: 'u1' }), ref: 'u1', error: /unknown frame type "reboot"/ },
    { name: 'no t', send: () => device.report({ ref: 'u2', id: executing }), ref: 'u2', error: /unknown frame type null/ },
    { name: 'a missing ref', send: () => device.sendRaw(JSON.stringify({ t: 'received', id: executing })), ref: null, error: /ref is missing/ },
    { name: 'a ref of the wrong type', send: () => device.sendRaw(JSON.stringify({ t: 'received', ref: { x: 1 }, id: executing })), ref: null, error: /ref must be/ },
    { name: 'an id of the wrong type', send: () => device.report({ t: 'received', ref: 'w1', id: 7 }), ref: 'w1', error: /id must be/ },
    { name: 'a missing id', send: () => device.report({ t: 'dropped', ref: 'w2' }), ref: 'w2', error: /id must be/ },
    { name: 'a customStatus that is not a string', send: () => device.report({ t: 'progress', ref: 'w3', id: executing, customStatus: 5 }), ref: 'w3', error: /customStatus/ },
    { name: 'a customStatus over its length', send: () => device.report({ t: 'progress', ref: 'w4', id: executing, customStatus: 'x'.repeat(1025) }), ref: 'w4', error: /customStatus is over/ },
    { name: 'a failed report without error', send: () => device.report({ t: 'failed', ref: 'w5', id: executing }), ref: 'w5', error: /error must be/ },
    { name: 'an unknown state', send: () => device.report({ t: 'state', ref: 'w6', state: 'asleep' }), ref: 'w6', error: /state must be/ },
    { name: 'a completed report with an array payload', send: () => device.report({ t: 'completed', ref: 'p1', id: executing, responsePayload: [1] }), ref: 'p1', error: /JSON object/ },
    { name: 'a completed report with a string payload', send: () => device.report({ t: 'completed', ref: 'p2', id: executing, responsePayload: 'done' }), ref: 'p2', error: /JSON object/ },
    { name: 'a completed report without payload', send: () => device.report({ t: 'completed', ref: 'p3', id: executing }), ref: 'p3', error: /JSON object/ },
    { name: 'a completed report nesting too deep', send: () => device.report({ t: 'completed', ref: 'p4', id: executing, responsePayload: deep(9) }), ref: 'p4', error: /deeper than 8/ },
    { name: 'a completed report over the payload limit', send: () => device.report({ t: 'completed', ref: 'p5', id: executing, responsePayload: { s: 'x'.repeat(MAX_PAYLOAD) } }), ref: 'p5', error: /over its limit of 1024 bytes/ },
    { name: 'an oversized frame', send: () => device.report({ t: 'received', ref: 'o1', id: executing, junk: 'x'.repeat(100_000) }), ref: 'o1', error: /frame is over its limit/ },
    { name: 'a binary frame', send: () => device.sendRaw(Buffer.from(JSON.stringify({ t: 'received', ref: 'b1', id: executing })), true), ref: null, error: /binary/ },
    { name: 'invalid UTF-8', send: () => device.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), ref: null, error: /UTF-8/ },
    { name: "a report on another user's device's command", send: () => device.report({ t: 'received', ref: 'n1', id: foreign }), ref: 'n1', error: /^no such command$/ },
    { name: 'a report on an unknown command id', send: () => device.report({ t: 'completed', ref: 'n2', id: 'F'.repeat(44), responsePayload: {} }), ref: 'n2', error: /^no such command$/ },
    { name: 'a report on an id that is no command id', send: () => device.report({ t: 'received', ref: 'n3', id: '../../etc' }), ref: 'n3', error: /^no such command$/ },
    { name: 'received on a completed command', send: () => device.report({ t: 'received', ref: 'c1', id: completed }), ref: 'c1', error: /already completed/ },
    { name: 'failed on a completed command', send: () => device.report({ t: 'failed', ref: 'c2', id: completed, error: 'no' }), ref: 'c2', error: /already completed/ },
    { name: 'canceled on a command nobody canceled', send: () => device.report({ t: 'canceled', ref: 'c3', id: executing }), ref: 'c3', error: /not allowed while the command is executing/ },
  ];

  for (const c of cases) {
    it(`nacks ${c.name}, changes nothing and keeps answering`, async () => {
      const before = await storedState();
      const answer = await c.send();
      assert.equal(answer.t, 'nack');
      assert.equal(answer.ref, c.ref);
      assert.match(answer.error, c.error);
      assert.deepEqual(await storedState(), before);
      // Still open and answering: a repeated receipt is acked and changes nothing.
      assert.equal((await device.report({ t: 'received', id: executing })).t, 'ack');
    });
  }

  it('answers every report of a flood, in bounded memory, and keeps answering', async () => {
    const before = await storedState();
    const answers: Array<Promise<Frame>> = [];
    for (let i = 0; i < 1500; i++) {
      answers.push(device.answerTo(`f${i}`));
      device.ws.send(JSON.stringify({ t: 'received', ref: `f${i}`, id: executing }));
    }
    for (const answer of await Promise.all(answers)) {
      assert.ok(answer.t === 'ack' || /^busy/.test(answer.error ?? ''), JSON.stringify(answer));
    }
    assert.deepEqual(await storedState(), before);
    assert.equal((await device.report({ t: 'received', id: executing })).t, 'ack');
  });

  it('closes the connection (1009) only for a frame past the hard cap', async () => {
    const other = await connectDevice(appia, (await appia.addDevice(user)).deviceToken);
    other.ws.send('x'.repeat(1024 * 1024 + 1));
    assert.equal((await other.closed).code, 1009);
  });
});
