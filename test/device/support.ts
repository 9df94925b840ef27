import { WebSocket } from 'ws';
import type { WebSocketConstructor } from '../../src/device/index.js';
import type { TestAppia } from '../support/appia.js';

const FINAL = new Set(['completed', 'failedToSend', 'executionFailed', 'commandDropped', 'canceled', 'expired', 'error']);

/** A user of a test server: a token and shortcuts for the command API. */
export interface TestUser {
  readonly token: string;
  /** POST a command; answers the created command */
  send(deviceId: string, body: object): Promise<any>;
  get(deviceId: string, commandId: string): Promise<any>;
  /** the command once it is final (Prefer: wait, asked again until it is) */
  final(deviceId: string, commandId: string): Promise<any>;
  history(deviceId: string, commandId: string): Promise<string[]>;
  responsePayload(deviceId: string, commandId: string): Promise<{ status: number; body: any }>;
}

export async function testUser(appia: TestAppia, name: string): Promise<TestUser> {
  const token = await appia.token(name);
  const path = (deviceId: string, commandId = '') => `/beta/me/devices/${deviceId}/commands${commandId ? `/${commandId}` : ''}`;
  const user: TestUser = {
    token,
    async send(deviceId, body) {
      const res = await appia.api(token, 'POST', path(deviceId), body);
      if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async get(deviceId, commandId) {
      return (await appia.api(token, 'GET', path(deviceId, commandId))).body;
    },
    async final(deviceId, commandId) {
      for (;;) {
        const res = await appia.api(token, 'GET', path(deviceId, commandId), undefined, { prefer: 'wait=10' });
        if (res.status !== 200) throw new Error(`GET failed: ${res.status} ${JSON.stringify(res.body)}`);
        if (FINAL.has(res.body.status)) return res.body;
      }
    },
    async history(deviceId, commandId) {
      return (await appia.api(token, 'GET', `${path(deviceId, commandId)}/history`)).body.value.map((h: { status: string }) => h.status);
    },
    async responsePayload(deviceId, commandId) {
      const res = await appia.api(token, 'GET', `${path(deviceId, commandId)}/responsePayload`);
      return { status: res.status, body: res.body };
    },
  };
  return user;
}

export const ping = (payload: object = {}) => ({ type: 'AppService', appServiceName: 'ping', packageFamilyName: 'com.example.tests', payload });
export const launch = (uri: string) => ({ type: 'LaunchUri', payload: { uri } });

/** A one-shot signal a test can await. */
export function latch<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A WebSocket class for the SDK's `WebSocket` seam that lets a test lose
 * frames the way a network does: `decide` sees each outgoing frame and says
 * whether to send it, silently lose it, or cut the connection instead of
 * sending it. `incoming` sees each frame from the server.
 */
export function unreliableWebSocket(
  decide: (frame: { t: string; id?: string; ref: string }) => 'send' | 'lose' | 'cut',
  incoming: (frame: { t: string; [key: string]: any }) => void = () => {},
): WebSocketConstructor {
  class Unreliable extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      const action = decide(JSON.parse(String(data)));
      if (action === 'lose') return;
      if (action === 'cut') {
        this.terminate();
        return;
      }
      (super.send as (...args: any[]) => void)(data, ...rest);
    }
    override emit(event: string | symbol, ...args: any[]): boolean {
      if (event === 'message') incoming(JSON.parse(String(args[0])));
      return super.emit(event, ...args);
    }
  }
  return Unreliable as unknown as WebSocketConstructor;
}
