import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppiaError } from '../../src/domain/errors.js';
import type { ChainResult, StatusChange } from '../../src/store/store.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { commandStatus, connectDevice, createCommand, historyOf, type Frame, type TestDevice } from './support.js';

/**
 * sends frames back to back in one write of the socket (so the server reads
 * them together) and resolves with every answer, in the order they came
 */
async function burst(device: TestDevice, frames: Array<Record<string, unknown>>): Promise<Frame[]> {
  const order: Frame[] = [];
  const answers = frames.map((frame, i) => {
    const ref = `b${i}-${Math.random()}`;
    const answer = device.answerTo(ref).then((f) => (order.push(f), f));
    return { frame: { ...frame, ref }, answer };
  });
  const socket = (device.ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.cork();
  for (const { frame } of answers) device.ws.send(JSON.stringify(frame));
  socket.uncork();
  const byFrame = await Promise.all(answers.map((a) => a.answer));
  assert.deepEqual(order.map((f) => f['ref']), byFrame.map((f) => f['ref']), 'answers come in frame order');
  return byFrame;
}

// DESIGN 1 and 4: a connection's consecutive reports go to the store as one
// chain of changes, in one transaction, yet are answered in order, each once
// its change is durable.
describe('device gateway: chains of reports', () => {
  let appia: TestAppia;
  let user: string;
  /** every chain the store was handed, as [command id, status] per change */
  const chains: Array<Array<[string, string]>> = [];
  /** commands whose next chain fails as if the store were unreachable */
  const unreachableFor = new Set<string>();
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0 });
    user = await appia.token('pia');
    const store = appia.store;
    const transitionChain = store.transitionChain.bind(store);
    store.transitionChain = (changes: readonly StatusChange[]): Promise<ChainResult> => {
      chains.push(changes.map((c) => [c.commandId, c.to]));
      if (changes.some((c) => unreachableFor.delete(c.commandId))) {
        return Promise.reject(new AppiaError('unavailable', 'the store is unreachable (test)'));
      }
      return transitionChain(changes);
    };
  });
  after(() => appia.stop());

  it('stores received and completed sent back to back as one chain, and acks both in order', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    await device.command();
    const answers = await burst(device, [
      { t: 'received', id: commandId },
      { t: 'completed', id: commandId, responsePayload: { ok: true } },
    ]);
    assert.deepEqual(answers.map((a) => a.t), ['ack', 'ack']);
    const mine = chains.filter((chain) => chain.some(([id]) => id === commandId));
    assert.deepEqual(mine.at(-1), [[commandId, 'executing'], [commandId, 'completed']], 'one chain, in frame order');
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
      { t: 'progress', id: next, customStatus: 'too late' }, // refused on the record completed leaves
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

  it('closes the connection with 1011 when the store is unreachable under a chain, and answers none of it', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const first = await createCommand(appia, user, deviceId, 'https://example.com/1');
    await device.command();
    const second = await createCommand(appia, user, deviceId, 'https://example.com/2');
    await device.command();
    // acked before the outage: stays recorded
    assert.equal((await device.report({ t: 'received', id: first })).t, 'ack');
    unreachableFor.add(second);
    const socket = (device.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    device.ws.send(JSON.stringify({ t: 'completed', id: first, ref: 'f1', responsePayload: {} }));
    device.ws.send(JSON.stringify({ t: 'received', id: second, ref: 'f2' }));
    socket.uncork();
    assert.equal((await device.closed).code, 1011);
    assert.equal(device.unread.some((f) => f['ref'] === 'f1' || f['ref'] === 'f2'), false, 'nothing of the failed chain is answered');
    // nothing of the chain was recorded: the device re-sends both after reconnecting
    assert.equal(await commandStatus(appia, user, deviceId, first), 'executing');
    // the disconnect may already have scheduled its delivery again
    assert.ok(['sentToTarget', 'retry'].includes(await commandStatus(appia, user, deviceId, second)));
  });
});
