import type { TestContext } from 'node:test';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import type { CommandHandler } from '../../src/device/index.js';
import type { DispatcherOptions } from '../../src/postback/dispatcher.js';
import { startTestAppia, type TestAppia, type TestSettings } from '../support/appia.js';
import { testUser, type TestUser } from '../device/support.js';
import { HookReceiver } from './hook-receiver.js';

/** One entry of GET .../postbacks (DESIGN 6). */
export interface Delivery {
  readonly sequence: number;
  readonly status: string;
  readonly webhookId: string;
  readonly state: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly lastAttemptDateTime: string | null;
  readonly lastResponseStatus: number | null;
  readonly lastError: string | null;
  readonly nextAttemptDateTime: string | null;
  readonly deliveredDateTime: string | null;
}

export interface PostbackWorld {
  readonly appia: TestAppia;
  readonly receiver: HookReceiver;
  readonly alice: TestUser;
  /** registers a device of alice's and connects it with the SDK; it runs LaunchUri and the `work` app service */
  device(handlers?: { LaunchUri?: CommandHandler; work?: CommandHandler }): Promise<{ id: string; sdk: DeviceConnection }>;
  /** registers a device of alice's that never connects */
  offlineDevice(): Promise<string>;
  /** alice creates a LaunchUri command whose postbacks go to the receiver (or `postBackUri`) */
  create(deviceId: string, body?: Record<string, unknown>): Promise<{ id: string; status: string }>;
  /** the command's deliveries log, as alice reads it */
  log(deviceId: string, commandId: string): Promise<Delivery[]>;
  /** alice's current secret, from GET /beta/me/postBackSecret */
  secret(): Promise<string>;
}

/**
 * A real Appia node whose postbacks may reach loopback (`APPIA_POSTBACK_ALLOW
 * 127.0.0.1/32`), a real receiver on 127.0.0.1, a user, and SDK devices.
 * Everything stops when the test ends, also when it fails.
 */
export async function postbackWorld(t: TestContext, seams: DispatcherOptions = {}, settings: TestSettings = {}): Promise<PostbackWorld> {
  const appia = await startTestAppia({ postbackAllow: ['127.0.0.1/32'], ...settings }, { postbacks: seams });
  const receiver = await HookReceiver.start();
  const devices: DeviceConnection[] = [];
  t.after(async () => {
    // the receiver first, so no attempt is left waiting on it while the server stops
    await receiver.close();
    await Promise.all(devices.map((d) => d.close()));
    await appia.stop();
  });
  const alice = await testUser(appia, 'alice');
  const commands = (deviceId: string) => `/beta/me/devices/${deviceId}/commands`;
  return {
    appia,
    receiver,
    alice,
    async device(handlers = {}) {
      const { id, deviceToken } = await appia.addDevice(alice.token);
      const sdk = await connect({
        url: appia.url,
        token: deviceToken,
        handlers: { LaunchUri: handlers.LaunchUri ?? (async (command) => ({ opened: (command.payload as { uri: string }).uri })) },
        appServices: { work: handlers.work ?? (async (_command, ctx) => (await ctx.progress('half way'), { done: true })) },
      });
      devices.push(sdk);
      return { id, sdk };
    },
    async offlineDevice() {
      return (await appia.addDevice(alice.token)).id;
    },
    async create(deviceId, body = {}) {
      const res = await appia.api(alice.token, 'POST', commands(deviceId), {
        type: 'LaunchUri',
        payload: { uri: 'https://example.com/postbacks' },
        postBackUri: receiver.url(),
        ...body,
      });
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async log(deviceId, commandId) {
      const res = await appia.api(alice.token, 'GET', `${commands(deviceId)}/${commandId}/postbacks`);
      if (res.status !== 200) throw new Error(`deliveries log: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.value;
    },
    async secret() {
      const res = await appia.api(alice.token, 'GET', '/beta/me/postBackSecret');
      if (res.status !== 200) throw new Error(`secret: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.secret;
    },
  };
}

/** Polls `check` until it returns a value (for states only the API shows, such as the deliveries log). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
