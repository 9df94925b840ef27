import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { subjects, type Bus, type BusMessage } from '../../src/bus/bus.js';
import { isAppiaError } from '../../src/domain/errors.js';
import { Inbox, marker, markerText } from './bus-inbox.js';

/** Two buses standing for two nodes of one deployment. */
export interface BusNodes {
  /** for a single-process adapter, `a` and `b` are the same instance */
  readonly a: Bus;
  readonly b: Bus;
  /**
   * Puts raw bytes on a subject the way any other client of the same
   * server could, without going through a Bus; absent when the adapter has
   * no wire. Resolves once the bytes reached the server.
   */
  readonly publishRaw?: (subject: string, bytes: Uint8Array) => Promise<void>;
  /** closes both buses and anything else made for them */
  cleanup(): Promise<void>;
}

// A lost message only hangs its test: this turns a hang into a failure. It bounds nothing about speed.
const HANG_GUARD = { timeout: 30_000 };

/**
 * The behaviour every Bus adapter must have (DESIGN 1: one interface, one
 * contract suite, run against each adapter). Node `a` publishes, node `b`
 * listens, unless a story says otherwise. Subjects carry random ids, so
 * stories may share one server.
 *
 * Messages from one publisher arrive in the order sent, so "nothing else
 * arrived" is checked by sending a last message after the others and
 * waiting for it (`settle`), never by sleeping.
 */
export function busContract(name: string, makeNodes: () => Promise<BusNodes>): void {
  const story = (title: string, body: (n: BusNodes, t: TestContext) => Promise<void>) =>
    test(title, HANG_GUARD, async (t) => {
      const nodes = await makeNodes();
      // t.after also runs when the guard ends a hung story, so no connection keeps the process alive
      t.after(() => nodes.cleanup());
      await body(nodes, t);
    });

  describe(`Bus contract: ${name}`, () => {
    story('a message published after subscription.ready reaches the subscriber on the other node', async ({ a, b }) => {
      const subject = subjects.device(`d-${randomUUID()}`);
      const inbox = new Inbox();
      await b.subscribe(subject, inbox.handler).ready;
      const message: BusMessage = { kind: 'deliver', deviceId: 'd1', commandId: 'c1' };
      a.publish(subject, message);
      assert.deepEqual(await inbox.next(), message);
    });

    story('"subscribe, await ready, then the other node publishes" never loses the message, on 100 fresh subjects', async ({ a, b }) => {
      const arrivals: Promise<BusMessage>[] = [];
      for (let i = 0; i < 100; i++) {
        const subject = subjects.device(`d-${randomUUID()}`);
        const inbox = new Inbox();
        await b.subscribe(subject, inbox.handler).ready;
        a.publish(subject, marker(`#${i}`));
        arrivals.push(inbox.next());
      }
      assert.deepEqual((await Promise.all(arrivals)).map(markerText), Array.from({ length: 100 }, (_, i) => `#${i}`));
    });

    story("a node's own subscribers get what it publishes", async ({ a }) => {
      const subject = subjects.user(`u-${randomUUID()}`);
      const inbox = new Inbox();
      await a.subscribe(subject, inbox.handler).ready;
      const message: BusMessage = { kind: 'status', userId: 'u', deviceId: 'd', commandId: 'c', status: 'completed', historyId: 7 };
      a.publish(subject, message);
      assert.deepEqual(await inbox.next(), message);
    });

    describe('subjects encode ids safely', () => {
      // ids that NATS would read as separators or wildcards, or that could collide once encoded
      // ('YQ' is 'a' in base64url, '' is written '_', a lone surrogate would be U+FFFD in UTF-8)
      const TRICKY = ['a', 'a.b', 'a.*', 'a.>', 'b', '*', '>', '.', 'a b', ' ', 'ünïcödé', '設備', '🙂', 'a\nb', '', '_', 'YQ', 'appia.user.a', '\uD800', '\uFFFD'];

      for (const [kind, subjectOf] of [
        ['user', subjects.user],
        ['device', subjects.device],
      ] as const) {
        story(`a message to ${kind} "a.b" never reaches subscribers of "a", "a.*", "a.>" or "b"; each ${kind} id gets only its own`, async (nodes) => {
          // the ids are used as they are; markers carry this run's id, so another test run on the same server cannot interfere
          const run = randomUUID();
          const inboxes = new Map<string, Inbox>();
          for (const id of TRICKY) {
            const inbox = new Inbox();
            inboxes.set(id, inbox);
            await nodes.b.subscribe(subjectOf(id), inbox.handler).ready;
          }
          for (const id of TRICKY) nodes.a.publish(subjectOf(id), marker(`${run} ${id}`));
          await settle(nodes);
          for (const id of TRICKY) {
            const own = inboxes.get(id)!.markers().filter((m) => m.startsWith(run));
            assert.deepEqual(own, [`${run} ${id}`], `the subscriber of ${kind} ${JSON.stringify(id)} got only its own message`);
          }
        });
      }

      story('a user and a device with the same id are different subjects', async (nodes) => {
        const id = `same-${randomUUID()}`;
        const asUser = new Inbox();
        const asDevice = new Inbox();
        await nodes.b.subscribe(subjects.user(id), asUser.handler).ready;
        await nodes.b.subscribe(subjects.device(id), asDevice.handler).ready;
        nodes.a.publish(subjects.user(id), marker('to the user'));
        await settle(nodes);
        assert.deepEqual(asUser.markers(), ['to the user']);
        assert.deepEqual(asDevice.markers(), []);
      });
    });

    describe('messages are validated on receipt', () => {
      story('a malformed message (unknown kind, missing or mistyped field) reaches no one, and a valid one after it still arrives', async ({ a, b }) => {
        const subject = subjects.device(`d-${randomUUID()}`);
        const inbox = new Inbox();
        await b.subscribe(subject, inbox.handler).ready;
        for (const bad of MALFORMED) a.publish(subject, bad as BusMessage);
        const valid: BusMessage = { kind: 'cancel', deviceId: 'd', commandId: 'c' };
        a.publish(subject, valid);
        assert.deepEqual(await inbox.next(), valid);
        assert.deepEqual(inbox.got, [valid]);
      });

      story('bytes that are not a bus message, put on the subject by another client, reach no one', async ({ b, publishRaw }, t) => {
        if (!publishRaw) return t.skip(`the ${name} bus has no wire that another client could put bytes on`);
        const subject = subjects.user(`u-${randomUUID()}`);
        const inbox = new Inbox();
        await b.subscribe(subject, inbox.handler).ready;
        const raw = [
          'not json',
          '{"kind":"deliver","deviceId":"d"',
          '',
          'null',
          '"deliver"',
          '[{"kind":"deliver","deviceId":"d","commandId":"c"}]',
          ...MALFORMED.map((m) => JSON.stringify(m)),
        ].map((text) => new TextEncoder().encode(text));
        raw.push(Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d])); // not UTF-8
        for (const bytes of raw) await publishRaw(subject, bytes);
        // extra fields from a newer node are dropped, the message itself still counts
        await publishRaw(subject, new TextEncoder().encode(JSON.stringify({ kind: 'deviceRemoved', deviceId: 'd', extra: 'x' })));
        assert.deepEqual(await inbox.next(), { kind: 'deviceRemoved', deviceId: 'd' });
        assert.equal(inbox.got.length, 1);
      });
    });

    describe('subscriptions', () => {
      story('after unsubscribe the handler gets nothing more', async (nodes) => {
        const subject = subjects.device(`d-${randomUUID()}`);
        const inbox = new Inbox();
        const subscription = nodes.b.subscribe(subject, inbox.handler);
        await subscription.ready;
        nodes.a.publish(subject, marker('before'));
        await inbox.next();
        subscription.unsubscribe();
        nodes.a.publish(subject, marker('after'));
        await settle(nodes);
        assert.deepEqual(inbox.markers(), ['before']);
      });

      story('a second unsubscribe does nothing and does not cut off a newer subscriber of the same subject', async (nodes) => {
        const subject = subjects.device(`d-${randomUUID()}`);
        const old = new Inbox();
        const first = nodes.b.subscribe(subject, old.handler);
        await first.ready;
        first.unsubscribe();
        const newer = new Inbox();
        await nodes.b.subscribe(subject, newer.handler).ready;
        first.unsubscribe();
        nodes.a.publish(subject, marker('for the newer one'));
        await settle(nodes);
        assert.deepEqual(newer.markers(), ['for the newer one']);
        assert.deepEqual(old.markers(), []);
      });

      story('every subscriber of one subject gets each message, on one node or on two, even the same handler twice', async (nodes) => {
        const subject = subjects.user(`u-${randomUUID()}`);
        const got: string[] = [];
        const handler = (m: BusMessage) => got.push(markerText(m));
        const here = new Inbox();
        const there = new Inbox();
        await nodes.b.subscribe(subject, here.handler).ready;
        await nodes.b.subscribe(subject, handler).ready;
        await nodes.b.subscribe(subject, handler).ready;
        await nodes.a.subscribe(subject, there.handler).ready;
        nodes.a.publish(subject, marker('one'));
        nodes.a.publish(subject, marker('two'));
        await settle(nodes);
        await there.next();
        await there.next();
        assert.deepEqual(here.markers(), ['one', 'two']);
        assert.deepEqual(there.markers(), ['one', 'two']);
        assert.deepEqual(got.sort(), ['one', 'one', 'two', 'two']);
      });

      story('a throwing handler does not stop the other subscribers, nor later messages', async (nodes) => {
        const subject = subjects.device(`d-${randomUUID()}`);
        let thrown = 0;
        await nodes.b.subscribe(subject, () => {
          thrown++;
          throw new Error('a subscriber bug');
        }).ready;
        const inbox = new Inbox();
        await nodes.b.subscribe(subject, inbox.handler).ready;
        nodes.a.publish(subject, marker('one'));
        nodes.a.publish(subject, marker('two'));
        await settle(nodes);
        assert.deepEqual(inbox.markers(), ['one', 'two']);
        assert.equal(thrown, 2);
      });
    });

    describe('readiness and close', () => {
      story('ready() resolves while the bus works and rejects after close()', async ({ a, b }) => {
        await a.ready();
        await b.ready();
        await a.close();
        await assert.rejects(a.ready(), unavailable(/closed/));
      });

      story('after close(), publish does not throw, a new subscription says it is not ready, and close() again is fine', async ({ a }) => {
        await a.close();
        a.publish(subjects.device('d'), { kind: 'deviceRemoved', deviceId: 'd' });
        const late = a.subscribe(subjects.device('d'), () => {});
        await assert.rejects(late.ready, unavailable(/closed/));
        late.unsubscribe();
        await a.close();
      });
    });
  });
}

/** Messages a node never sends; `parseBusMessage` refuses each. */
const MALFORMED: readonly unknown[] = [
  { kind: 'explode', deviceId: 'd', commandId: 'c' },
  { deviceId: 'd', commandId: 'c' },
  { kind: 'deliver', deviceId: 'd' },
  { kind: 'deliver', deviceId: 42, commandId: 'c' },
  { kind: 'deliver', deviceId: '', commandId: 'c' },
  { kind: 'deliver', deviceId: 'd'.repeat(1025), commandId: 'c' },
  { kind: 'connected', deviceId: 'd' },
  { kind: 'status', userId: 'u', deviceId: 'd', commandId: 'c', status: 'exploded', historyId: 1 },
  { kind: 'status', userId: 'u', deviceId: 'd', commandId: 'c', status: 'completed', historyId: -1 },
  { kind: 'status', userId: 'u', deviceId: 'd', commandId: 'c', status: 'completed', historyId: 1.5 },
  { kind: 'status', userId: 'u', deviceId: 'd', commandId: 'c', status: 'completed', historyId: '1' },
  { kind: 'status', userId: null, deviceId: 'd', commandId: 'c', status: 'completed', historyId: 1 },
];

/** the rejection the bus port promises: an AppiaError `unavailable` (503 for HTTP callers) saying why */
function unavailable(reason: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isAppiaError(err), `an AppiaError, got ${String(err)}`);
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, reason);
    return true;
  };
}

/**
 * Waits until everything `a` published so far has reached `b`: one more
 * message from `a` to a fresh subscriber on `b`, which arrives after them.
 */
async function settle({ a, b }: BusNodes): Promise<void> {
  const subject = subjects.device(`settle-${randomUUID()}`);
  const inbox = new Inbox();
  const subscription = b.subscribe(subject, inbox.handler);
  try {
    await subscription.ready;
    a.publish(subject, marker('settled'));
    await inbox.next();
  } finally {
    subscription.unsubscribe();
  }
}
