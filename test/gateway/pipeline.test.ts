import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppiaError } from '../../src/domain/errors.js';
import type { StatusChange, TransitionResult } from '../../src/store/store.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { commandStatus, connectDevice, createCommand, historyOf, type Frame, type TestDevice } from './support.js';

/** sends frames back to back (no wait between them) and resolves with every answer, in the order they came */
async function burst(device: TestDevice, frames: Array<Record<string, unknown>>): Promise<Frame[]> {
  const order: Frame[] = [];
  const answers = frames.map((frame, i) => {
    const ref = `b${i}-${Math.random()}`;
    const answer = device.answerTo(ref).then((f) => (order.push(f), f));
    return { frame: { ...frame, ref }, answer };
  });
  for (const { frame } of answers) device.ws.send(JSON.stringify(frame));
  const byFrame = await Promise.all(answers.map((a) => a.answer));
  assert.deepEqual(order.map((f) => f['ref']), byFrame.map((f) => f['ref']), 'answers come in frame order');
  return byFrame;
}

// DESIGN 4: reports sent back to back are pipelined into one group commit,
// yet answered in order, each once its change is durable.
describe('device gateway: pipelined reports', () => {
  let appia: TestAppia;
  let user: string;
  /** transitions queued while an earlier one was not committed yet */
  let overlapped = 0;
  /** commands whose next transition fails as if the store were unreachable */
  const unreachableFor = new Set<string>();
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0 });
    user = await appia.token('pia');
    const store = appia.store;
    const transition = store.transitionCommand.bind(store);
    let pending = 0;
    store.transitionCommand = (change: StatusChange): Promise<TransitionResult | undefined> => {
      if (pending > 0) overlapped++;
      pending++;
      const write = unreachableFor.delete(change.commandId)
        ? Promise.reject(new AppiaError('unavailable', 'the store is unreachable (test)'))
        : transition(change);
      void write.finally(() => pending--).catch(() => {});
      return write;
    };
  });
  after(() => appia.stop());

  it('acks received and completed sent back to back in order, and records both', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    await device.command();
    const before = overlapped;
    const answers = await burst(device, [
      { t: 'received', id: commandId },
      { t: 'completed', id: commandId, responsePayload: { ok: true } },
    ]);
    assert.deepEqual(answers.map((a) => a.t), ['ack', 'ack']);
    assert.equal(overlapped, before + 1, 'completed was queued before received was committed');
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'completed');
    assert.deepEqual(await historyOf(appia, user, deviceId, commandId), ['requesting', 'sentToTarget', 'executing', 'completed']);
    const payload = await appia.api(user, 'GET', `/beta/me/devices/${deviceId}/commands/${commandId}/responsePayload`);
    assert.deepEqual(payload.body.ok, true);
    await device.close();
  });

  it('answers right when the first of pipelined reports is refused', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const done = await createCommand(appia, user, deviceId, 'https://example.com/done');
    await device.command();
    // completed straight from sentToTarget: it never was executing
    assert.equal((await device.report({ t: 'completed', id: done, responsePayload: {} })).t, 'ack');
    const next = await createCommand(appia, user, deviceId, 'https://example.com/next');
    await device.command();

    const answers = await burst(device, [
      { t: 'received', id: done }, // refused: completed is final and never went through executing
      { t: 'received', id: next },
      { t: 'completed', id: next, responsePayload: { n: 2 } },
      { t: 'progress', id: next, customStatus: 'too late' }, // refused, decided on the prediction of completed
      { t: 'completed', id: next, responsePayload: { n: 3 } }, // a repeat: acked, the first answer kept
    ]);
    assert.deepEqual(answers.map((a) => a.t), ['nack', 'ack', 'ack', 'nack', 'ack']);
    assert.deepEqual(await historyOf(appia, user, deviceId, done), ['requesting', 'sentToTarget', 'completed']);
    assert.deepEqual(await historyOf(appia, user, deviceId, next), ['requesting', 'sentToTarget', 'executing', 'completed']);
    const payload = await appia.api(user, 'GET', `/beta/me/devices/${deviceId}/commands/${next}/responsePayload`);
    assert.equal(payload.body.n, 2);
    await device.close();
  });

  it('answers a pipelined report on another device\'s command as no such command, in order', async () => {
    const other = await appia.addDevice(user);
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const foreign = await createCommand(appia, user, other.id);
    const mine = await createCommand(appia, user, deviceId);
    await device.command();
    const answers = await burst(device, [
      { t: 'received', id: mine },
      { t: 'completed', id: foreign, responsePayload: {} },
      { t: 'completed', id: mine, responsePayload: {} },
    ]);
    assert.deepEqual(answers.map((a) => a.t), ['ack', 'nack', 'ack']);
    assert.equal(answers[1]!['error'], 'no such command');
    assert.equal(await commandStatus(appia, user, other.id, foreign), 'requesting');
    await device.close();
  });

  it('closes the connection with 1011 when the store fails under a pipelined report, after acking the earlier one', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const first = await createCommand(appia, user, deviceId, 'https://example.com/1');
    await device.command();
    const second = await createCommand(appia, user, deviceId, 'https://example.com/2');
    await device.command();
    unreachableFor.add(second);
    const ackFirst = device.answerTo('f1');
    device.ws.send(JSON.stringify({ t: 'received', id: first, ref: 'f1' }));
    device.ws.send(JSON.stringify({ t: 'received', id: second, ref: 'f2' }));
    assert.equal((await ackFirst).t, 'ack');
    assert.equal((await device.closed).code, 1011);
    assert.equal(device.unread.some((f) => f['ref'] === 'f2'), false, 'the failed report is not answered');
    assert.equal(await commandStatus(appia, user, deviceId, first), 'executing');
    // not recorded; the disconnect may already have scheduled its delivery again
    assert.ok(['sentToTarget', 'retry'].includes(await commandStatus(appia, user, deviceId, second)));
  });
});
