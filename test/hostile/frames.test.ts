import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { connectDevice, type TestDevice } from '../gateway/support.js';
import { anyText, cleanTree, inexactNumber, jsonText, Num, Obj, path, placeAt, renderPath, type Tree } from './arbitraries.js';
import { openArena, parameters, type Arena } from './support.js';

const TYPES = ['received', 'progress', 'completed', 'failed', 'dropped', 'canceled', 'state'];

/** the `ref` the server can read from a frame (DESIGN 4: 1-128 characters, or a safe integer), else null */
function readableRef(text: string): string | number | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const ref = (value as Record<string, unknown>)['ref'];
  if (typeof ref === 'string' && ref.length > 0 && ref.length <= 128) return ref;
  return typeof ref === 'number' && Number.isSafeInteger(ref) ? ref : null;
}

/**
 * Generated device frames on a real WebSocket (DESIGN 4): every frame is
 * answered with an ack or a nack naming the problem, the connection stays
 * open, a nacked frame changes nothing, and a report on another device's
 * command is nacked "no such command" whatever the attacker writes.
 */
describe('hostile device frames', () => {
  let arena: Arena;
  let device: TestDevice;
  let refs = 0;
  before(async () => {
    arena = await openArena();
    device = await connectDevice(arena.appia, arena.attacker.devices[0]!.deviceToken);
    // Quiet first: the device takes its two commands (executing has no timer), so nothing changes under the properties but the frames.
    for (let i = 0; i < 2; i++) {
      const { command } = await device.command();
      assert.equal((await device.report({ t: 'received', id: command.id })).t, 'ack');
    }
  });
  after(async () => {
    await device.close();
    await arena.stop();
  });

  /** sends one frame and returns the server's answer to it */
  async function send(text: string | Buffer, binary = false) {
    const ref = typeof text === 'string' ? readableRef(text) : null;
    const answer = device.answerTo(ref);
    device.ws.send(text, { binary });
    const frame = await answer;
    assert.equal(device.ws.readyState, WebSocket.OPEN, 'the connection stays open');
    if (frame.t === 'nack') assert.ok(typeof frame['error'] === 'string' && frame['error'].length >= 5, `the nack names the problem: ${JSON.stringify(frame)}`);
    else assert.equal(frame.t, 'ack');
    return frame;
  }

  test('any text or bytes, any fields, any ids: every frame is answered, the connection stays open, and a nack changes nothing', async () => {
    const { victim, attacker } = arena;
    const ids = fc.oneof(
      fc.constantFrom(...Object.values(victim.commands).flat()),
      fc.constantFrom(...Object.values(attacker.commands).flat()),
      fc.stringMatching(/^[0-9A-Fa-f]{44}$/),
      anyText,
      fc.constant(undefined),
    );
    const value = fc.oneof(cleanTree, inexactNumber as fc.Arbitrary<Tree>, fc.constant<Tree>(new Num('1e309')));
    const fields = fc.record(
      {
        t: fc.oneof(fc.constantFrom(...TYPES), anyText),
        ref: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }).map((r) => `${r}#${++refs}`), fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n * 1000 + (++refs % 1000)), fc.constant(null)),
        id: ids,
        customStatus: fc.oneof(anyText, value),
        error: fc.oneof(anyText, value),
        responsePayload: value,
        state: fc.oneof(fc.constantFrom('active', 'standby'), anyText),
      },
      { requiredKeys: ['t'] },
    );
    const frame = fc.oneof(
      { weight: 5, arbitrary: fields.map((f) => jsonText(new Obj(Object.entries(f).filter(([, v]) => v !== undefined).map(([k, v]) => [k, typeof v === 'object' || typeof v === 'string' || v === null ? (v as Tree) : new Num(String(v))])))) },
      { weight: 1, arbitrary: anyText },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
    );
    await fc.assert(
      fc.asyncProperty(frame, fc.boolean(), async (f, binary) => {
        const before = await arena.snapshot();
        const answer = await send(f, typeof f !== 'string' && binary);
        if (answer.t === 'nack') assert.equal(await arena.snapshot(), before, `the nacked frame ${String(f).slice(0, 200)} changed what is stored`);
      }),
      parameters(200),
    );
  });

  test("a report on the victim's command, in any form, is nacked \"no such command\" and changes nothing", async () => {
    const victimCommands = Object.values(arena.victim.commands).flat();
    const report = fc.record({
      t: fc.constantFrom('received', 'progress', 'completed', 'failed', 'dropped', 'canceled'),
      id: fc.constantFrom(...victimCommands).chain((id) => fc.constantFrom(id, id.toLowerCase())),
    });
    await fc.assert(
      fc.asyncProperty(report, async ({ t, id }) => {
        const before = await arena.snapshot([arena.victim]);
        const answer = await send(JSON.stringify({ t, id, ref: `v${++refs}`, customStatus: 'x', error: 'x', responsePayload: { ok: true } }));
        assert.equal(answer.t, 'nack');
        assert.equal(answer['error'], 'no such command');
        assert.equal(await arena.snapshot([arena.victim]), before);
      }),
      parameters(60),
    );
  });

  test('a completed report whose answer holds a number no double holds exactly is nacked naming its path, and the command keeps waiting', async () => {
    const own = Object.values(arena.attacker.commands).flat();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...own), path, inexactNumber, async (id, at, number) => {
        const before = await arena.snapshot();
        const ref = `n${++refs}`;
        const answer = await send(jsonText(new Obj([['t', 'completed'], ['ref', ref], ['id', id], ['responsePayload', placeAt(at, number) instanceof Obj ? placeAt(at, number) : new Obj([['v', placeAt(at, number)]])]])));
        assert.equal(answer.t, 'nack');
        assert.equal(answer['ref'], ref);
        const where = placeAt(at, number) instanceof Obj ? renderPath('responsePayload', at) : renderPath('responsePayload', ['v', ...at]);
        assert.ok(String(answer['error']).startsWith(`${where} holds the number`), String(answer['error']));
        assert.equal(await arena.snapshot(), before);
      }),
      parameters(60),
    );
  });
});
