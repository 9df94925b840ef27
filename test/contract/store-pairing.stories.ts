import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { isAppiaError } from '../../src/domain/errors.js';
import type { NewPairing } from '../../src/store/pairings.js';
import type { World } from './store.contract.js';

type Story = (title: string, body: (w: World) => Promise<void>) => void;

const hash = () => randomBytes(32).toString('hex');

function newPairing(w: World, overrides: Partial<NewPairing> = {}): NewPairing {
  const at = w.tick();
  return { idHash: hash(), userCodeHash: hash(), name: 'Kiosk', kind: 'Desktop', platform: 'Linux', model: null, manufacturer: null, createdAt: at, expiresAt: at + 60_000, intervalMs: 5000, ...overrides };
}

/** DESIGN 10: pairings, every decision one transaction; the codes are given as hashes, as the core stores them. */
export function pairingStories(story: Story): void {
  describe('device pairing', () => {
    story('an approved pairing registers its device to the approver, and its first poll after that swaps in the token, once', async (w) => {
      const user = w.user();
      const p = newPairing(w);
      await w.store.pairings.create(p, 0);
      assert.deepEqual(await w.store.pairings.poll(p.idHash, p.createdAt + 1, hash()), { kind: 'pending', intervalMs: 5000 });
      const at = p.createdAt + 6000;
      const device = await w.store.pairings.approve({ userCodeHash: p.userCodeHash, userId: user, deviceId: randomUUID(), at, collectUntil: at + 60_000 });
      assert.ok(device);
      assert.deepEqual([device.userId, device.name, device.platform, device.status], [user, 'Kiosk', 'Linux', 'Offline']);
      assert.equal((await w.store.getDevice(user, device.id))?.id, device.id);

      const token = hash();
      assert.deepEqual(await w.store.pairings.poll(p.idHash, at + 1, token), { kind: 'issued', deviceId: device.id });
      assert.equal((await w.store.findDeviceByTokenHash(token))?.id, device.id);
      assert.deepEqual(await w.store.pairings.poll(p.idHash, at + 10_000, hash()), { kind: 'collected' });
      assert.equal((await w.store.findDeviceByTokenHash(token))?.id, device.id, 'a later poll changes nothing');
    });

    story('of racing approvals of one code exactly one registers a device; of racing polls exactly one is issued', async (w) => {
      const p = newPairing(w);
      await w.store.pairings.create(p, 0);
      const at = p.createdAt + 1;
      const users = Array.from({ length: 6 }, () => w.user());
      const approvals = await Promise.all(users.map((userId) => w.store.pairings.approve({ userCodeHash: p.userCodeHash, userId, deviceId: randomUUID(), at, collectUntil: at + 60_000 })));
      const winners = approvals.filter((d) => d !== undefined);
      assert.equal(winners.length, 1);
      for (const user of users) assert.equal((await w.store.listDevices(user, { limit: 10, offset: 0 })).length, user === winners[0]!.userId ? 1 : 0);

      const polls = await Promise.all(Array.from({ length: 6 }, () => w.store.pairings.poll(p.idHash, at + 10_000, hash())));
      assert.equal(polls.filter((o) => o.kind === 'issued').length, 1);
      assert.ok(polls.every((o) => o.kind === 'issued' || o.kind === 'collected' || o.kind === 'slowDown'), JSON.stringify(polls));
    });

    story('a poll sooner than the interval is slowDown and grows the interval by 5 s; an expired pairing cannot be approved', async (w) => {
      const p = newPairing(w, { intervalMs: 1000 });
      await w.store.pairings.create(p, 0);
      assert.equal((await w.store.pairings.poll(p.idHash, p.createdAt + 1, hash())).kind, 'pending');
      assert.deepEqual(await w.store.pairings.poll(p.idHash, p.createdAt + 2, hash()), { kind: 'slowDown', intervalMs: 6000 });
      assert.deepEqual(await w.store.pairings.poll(p.idHash, p.createdAt + 6002, hash()), { kind: 'pending', intervalMs: 6000 });
      const approval = { userCodeHash: p.userCodeHash, userId: w.user(), deviceId: randomUUID(), at: p.expiresAt, collectUntil: p.expiresAt + 1 };
      assert.equal(await w.store.pairings.approve(approval), undefined);
      assert.deepEqual(await w.store.pairings.poll(p.idHash, p.expiresAt, hash()), { kind: 'expired' });
      assert.deepEqual(await w.store.pairings.poll(hash(), p.expiresAt, hash()), { kind: 'unknown' });
    });

    story('a denied pairing polls denied and cannot be approved; only a pending code can be denied', async (w) => {
      const p = newPairing(w);
      await w.store.pairings.create(p, 0);
      assert.equal(await w.store.pairings.deny(p.userCodeHash, w.user(), p.createdAt + 1), true);
      assert.equal(await w.store.pairings.deny(p.userCodeHash, w.user(), p.createdAt + 2), false);
      assert.deepEqual(await w.store.pairings.poll(p.idHash, p.createdAt + 3, hash()), { kind: 'denied' });
      assert.equal(await w.store.pairings.approve({ userCodeHash: p.userCodeHash, userId: w.user(), deviceId: randomUUID(), at: p.createdAt + 4, collectUntil: p.expiresAt }), undefined);
    });

    story('a user code a pending pairing holds is refused conflict; creating a pairing forgets those expired before the given time', async (w) => {
      const first = newPairing(w);
      await w.store.pairings.create(first, 0);
      await assert.rejects(w.store.pairings.create(newPairing(w, { userCodeHash: first.userCodeHash }), 0), (err) => isAppiaError(err) && err.code === 'conflict');
      await w.store.pairings.create(newPairing(w), first.expiresAt + 1);
      assert.deepEqual(await w.store.pairings.poll(first.idHash, first.createdAt + 1, hash()), { kind: 'unknown' }, 'forgotten');
      await w.store.pairings.create(newPairing(w, { userCodeHash: first.userCodeHash }), 0);
    });

    story('approval keeps the device limit: past it the approval is refused and the pairing stays pending', async (w) => {
      const user = w.user();
      await w.device(user);
      const p = newPairing(w);
      await w.store.pairings.create(p, 0);
      const approval = { userCodeHash: p.userCodeHash, userId: user, deviceId: randomUUID(), at: p.createdAt + 1, collectUntil: p.expiresAt };
      await assert.rejects(w.store.pairings.approve(approval, { maxDevices: 1 }), (err) => isAppiaError(err) && err.code === 'conflict');
      assert.equal((await w.store.pairings.poll(p.idHash, p.createdAt + 2, hash())).kind, 'pending');
      assert.ok(await w.store.pairings.approve(approval, { maxDevices: 2 }));
    });
  });
}
