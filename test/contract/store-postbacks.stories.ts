import { describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRecord } from '../../src/domain/command.js';
import type { World } from './store.contract.js';

type Story = (title: string, body: (w: World) => Promise<void>) => void;

const HOOK = 'https://hooks.example.com/appia';
const LEASE = 30_000;

/** DESIGN 6: the postback outbox and the signing secrets, in every adapter. */
export function postbackStories(story: Story): void {
  describe('postback outbox', () => {
    story('every status change of a command with postBackUri queues its postback in the same transaction', async (w) => {
      const device = await w.device(w.user());
      const { command } = await w.command(device, { postBackUri: HOOK });
      const sent = await w.move(command, 'sentToTarget', { attempts: 1 });
      // a refused change queues nothing
      assert.equal(await w.transition({ commandId: command.id, from: 'requesting', to: 'canceled', at: w.tick() }), undefined);
      const log = await w.store.listPostbacks(command.id);
      assert.deepEqual(log.map((p) => [p.sequence, p.state, p.attempts, p.url]), [
        [1, 'pending', 0, HOOK],
        [2, 'pending', 0, HOOK],
      ]);
      assert.deepEqual(JSON.parse(log[1]!.recordJson) as CommandRecord, sent.command);
      assert.equal((JSON.parse(log[0]!.recordJson) as CommandRecord).status, 'requesting');
      assert.notEqual(log[0]!.webhookId, log[1]!.webhookId);
      // no postBackUri, no postback
      const quiet = (await w.command(device)).command;
      await w.move(quiet, 'sentToTarget');
      assert.deepEqual(await w.store.listPostbacks(quiet.id), []);
    });

    story('claims hand out only the head of each command queue, in order, never twice while leased', async (w) => {
      const device = await w.device(w.user());
      const t0 = w.tick();
      const a = (await w.command(device, { postBackUri: HOOK, createdAt: t0 })).command;
      await w.move(a, 'sentToTarget', { at: t0 });
      const b = (await w.command(device, { postBackUri: HOOK, createdAt: t0 })).command;
      const now = w.tick();
      const mine = <T extends { commandId: string }>(entries: T[]) => entries.filter((p) => p.commandId === a.id || p.commandId === b.id);

      const first = mine(await w.store.claimPostbacks(now, 1000, LEASE));
      assert.deepEqual(first.map((p) => [p.commandId, p.sequence]).sort(), [[a.id, 1], [b.id, 1]].sort());
      assert.ok(first.every((p) => typeof p.claimToken === 'string'));
      // leased: another node gets none of them, and a's second entry waits for its first
      assert.deepEqual(mine(await w.store.claimPostbacks(now, 1000, LEASE)), []);

      const headA = first.find((p) => p.commandId === a.id)!;
      assert.equal(await w.store.recordPostbackAttempt(headA.id, 'not the claim', { state: 'delivered', at: now, responseStatus: 200 }), false);
      assert.equal(await w.store.recordPostbackAttempt(headA.id, headA.claimToken!, { state: 'delivered', at: now, responseStatus: 204 }), true);
      // the claim is spent: recording it again does nothing
      assert.equal(await w.store.recordPostbackAttempt(headA.id, headA.claimToken!, { state: 'delivered', at: now, responseStatus: 204 }), false);
      const next = mine(await w.store.claimPostbacks(now, 1000, LEASE));
      assert.deepEqual(next.map((p) => [p.commandId, p.sequence]), [[a.id, 2]]);
      // after the lease the unrecorded one is handed out again (its node died)
      const later = mine(await w.store.claimPostbacks(now + LEASE, 1000, LEASE));
      assert.deepEqual(later.map((p) => [p.commandId, p.sequence]).sort(), [[a.id, 2], [b.id, 1]].sort());

      const delivered = (await w.store.listPostbacks(a.id))[0]!;
      assert.equal(delivered.state, 'delivered');
      assert.equal(delivered.attempts, 1);
      assert.equal(delivered.lastResponseStatus, 204);
      assert.equal(delivered.deliveredAt, now);
      assert.equal(delivered.firstAttemptAt, now);
    });

    story('a failed attempt waits until its next attempt time; giving up records a note in the history and frees the next entry', async (w) => {
      const device = await w.device(w.user());
      const t0 = w.tick();
      const a = (await w.command(device, { postBackUri: HOOK, createdAt: t0 })).command;
      await w.move(a, 'sentToTarget', { at: t0 });
      const now = w.tick();
      const own = async (at: number) => (await w.store.claimPostbacks(at, 1000, LEASE)).filter((p) => p.commandId === a.id);
      const [head] = await own(now);
      assert.equal(
        await w.store.recordPostbackAttempt(head!.id, head!.claimToken!, {
          state: 'pending',
          at: now,
          responseStatus: 503,
          error: 'HTTP 503',
          nextAttemptAt: now + 5_000,
        }),
        true,
      );
      assert.deepEqual(await own(now + 4_999), []);
      assert.equal(await w.store.postbackDepth() >= 2, true);
      const [again] = await own(now + 5_000);
      assert.equal(again!.sequence, 1);
      assert.equal(again!.attempts, 1);
      assert.equal(again!.lastError, 'HTTP 503');
      assert.equal(again!.firstAttemptAt, now, 'the first attempt time stays as retries go on');
      await w.store.recordPostbackAttempt(again!.id, again!.claimToken!, {
        state: 'failed',
        at: now + 5_000,
        responseStatus: null,
        error: 'connection refused',
        historyNote: 'postback given up after 2 attempts',
      });
      const history = await w.store.listHistory(a.id);
      assert.equal(history[0]!.detail, 'postback given up after 2 attempts');
      const [second] = await own(now + 5_000);
      assert.equal(second!.sequence, 2);
      const log = await w.store.listPostbacks(a.id);
      assert.deepEqual(log.map((p) => [p.state, p.attempts]), [['failed', 2], ['pending', 0]]);
    });
  });

  describe('postback secrets', () => {
    story('rotating a secret keeps the old one signing until the given time', async (w) => {
      const user = w.user();
      assert.equal((await w.store.ensurePostbackSecrets(user, 'whsec_one')).current, 'whsec_one');
      const until = w.tick() + 24 * 3600 * 1000;
      assert.deepEqual(await w.store.rotatePostbackSecret(user, 'whsec_two', until), { current: 'whsec_two', previous: 'whsec_one', previousUntil: until });
      assert.deepEqual(await w.store.ensurePostbackSecrets(user, 'ignored'), { current: 'whsec_two', previous: 'whsec_one', previousUntil: until });
      const fresh = w.user();
      assert.deepEqual(await w.store.rotatePostbackSecret(fresh, 'whsec_first', until), { current: 'whsec_first', previous: null, previousUntil: null });
    });
  });
}
