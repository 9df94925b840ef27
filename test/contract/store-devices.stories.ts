import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { isAppiaError } from '../../src/domain/errors.js';
import type { World } from './store.contract.js';

type Story = (title: string, body: (w: World) => Promise<void>) => void;

const tooManyDevices = (err: unknown) => isAppiaError(err) && err.code === 'conflict' && /devices, the most allowed/.test(err.message);

/**
 * Hardening of the device calls (DESIGN 2, 8): the per-user device limit,
 * held in the registration's own transaction, and the list's status filter.
 */
export function deviceStories(story: Story): void {
  describe('device limit and status filter', () => {
    story('presence is a lease: a renewed connection stays present, one no node renewed goes Offline, and a late renewal brings it back', async (w) => {
      const user = w.user();
      const [kept, orphan, replaced, removed] = [await w.device(user), await w.device(user), await w.device(user), await w.device(user)];
      const connected = w.tick();
      await w.store.connectDevice(kept.id, 'node-a-1', connected);
      await w.store.connectDevice(orphan.id, 'node-b-1', connected);
      await w.store.connectDevice(replaced.id, 'node-b-2', connected);
      await w.store.connectDevice(replaced.id, 'node-a-2', connected);
      await w.store.connectDevice(removed.id, 'node-b-3', connected);
      await w.store.removeDevice(user, removed.id, w.tick());

      // node A renews its connections; node B is gone (and an old connection id renews nothing)
      const renewedAt = w.tick();
      assert.equal(await w.store.presence.renew(['node-a-1', 'node-a-2', 'node-b-2'], renewedAt), 2);
      assert.equal((await w.store.getDevice(user, kept.id))?.lastSeenAt, renewedAt);
      const expired = await w.store.presence.expire(renewedAt);
      assert.ok(expired.includes(orphan.id));
      assert.ok(!expired.includes(kept.id) && !expired.includes(replaced.id) && !expired.includes(removed.id));
      assert.deepEqual(await w.store.getDevice(user, orphan.id), { ...orphan, status: 'Offline', lastSeenAt: connected });
      assert.equal((await w.store.getDevice(user, kept.id))?.status, 'Online');
      // an Offline device is not expired again
      assert.ok(!(await w.store.presence.expire(renewedAt)).includes(orphan.id));

      // node B was only slow: its renewal makes the device present again
      const late = w.tick();
      assert.equal(await w.store.presence.renew(['node-b-1'], late), 1);
      assert.deepEqual(await w.store.getDevice(user, orphan.id), { ...orphan, status: 'Online', lastSeenAt: late });
      assert.equal(await w.store.presence.renew([], late), 0);
    });

    story('registrations racing the per-user device limit never exceed it, and a removal frees a place', async (w) => {
      const user = w.user();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, () => w.store.createDevice(w.newDevice(user), { maxDevices: 4 })),
      );
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 4);
      assert.ok(outcomes.every((o) => o.status === 'fulfilled' || tooManyDevices(o.reason)));
      const listed = await w.store.listDevices(user, { limit: 100, offset: 0 });
      assert.equal(listed.length, 4);

      await assert.rejects(w.store.createDevice(w.newDevice(user), { maxDevices: 4 }), tooManyDevices);
      assert.equal(await w.store.removeDevice(user, listed[0]!.id, w.tick()), true);
      await w.store.createDevice(w.newDevice(user), { maxDevices: 4 });
      assert.equal((await w.store.listDevices(user, { limit: 100, offset: 0 })).length, 4);
    });

    story("the device limit counts each user's own devices; 0 or no option is no limit", async (w) => {
      const [full, other] = [w.user(), w.user()];
      await w.store.createDevice(w.newDevice(full), { maxDevices: 1 });
      await assert.rejects(w.store.createDevice(w.newDevice(full), { maxDevices: 1 }), tooManyDevices);
      await w.store.createDevice(w.newDevice(other), { maxDevices: 1 });
      await w.store.createDevice(w.newDevice(full), { maxDevices: 0 });
      await w.store.createDevice(w.newDevice(full));
      assert.equal((await w.store.listDevices(full, { limit: 10, offset: 0 })).length, 3);
    });

    story('the list filtered by status holds only devices in that status, oldest first, a page at a time', async (w) => {
      const user = w.user();
      const devices = [];
      for (let i = 0; i < 5; i++) devices.push(await w.device(user));
      await w.store.connectDevice(devices[1]!.id, 'c1', w.tick());
      await w.store.connectDevice(devices[3]!.id, 'c3', w.tick());
      await w.store.connectDevice(devices[4]!.id, 'c4', w.tick());
      await w.store.setDevicePresence(devices[4]!.id, 'c4', 'Standby', w.tick());
      const ids = async (status: 'Online' | 'Offline' | 'Standby' | 'Unknown', offset = 0, limit = 10) =>
        (await w.store.listDevices(user, { limit, offset, status })).map((d) => d.id);
      assert.deepEqual(await ids('Online'), [devices[1]!.id, devices[3]!.id]);
      assert.deepEqual(await ids('Offline'), [devices[0]!.id, devices[2]!.id]);
      assert.deepEqual(await ids('Standby'), [devices[4]!.id]);
      assert.deepEqual(await ids('Unknown'), []);
      assert.deepEqual(await ids('Online', 1, 1), [devices[3]!.id]);
      assert.deepEqual((await w.store.listDevices(w.user(), { limit: 10, offset: 0, status: 'Online' })), [], "another user's devices never appear");
      await w.store.removeDevice(user, devices[0]!.id, w.tick());
      assert.deepEqual(await ids('Offline'), [devices[2]!.id], 'a removed device is not listed');
    });
  });
}
