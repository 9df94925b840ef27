import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestAppia, type ApiResponse, type TestAppia, type TestSettings } from '../support/appia.js';

/**
 * The hostile-input suite's arena: one real server, a victim with devices
 * and commands, an attacker with their own, and a snapshot of everything
 * stored for both, to show that a refused request changed nothing.
 */
export interface Party {
  readonly user: string;
  readonly token: string;
  readonly devices: ReadonlyArray<{ readonly id: string; readonly deviceToken: string }>;
  /** commands per device id */
  readonly commands: Readonly<Record<string, readonly string[]>>;
}

export interface Arena {
  readonly appia: TestAppia;
  readonly victim: Party;
  readonly attacker: Party;
  /** the users' devices, commands and histories, as stored (JSON text); both users unless told */
  snapshot(users?: readonly Party[]): Promise<string>;
  stop(): Promise<void>;
}

/** How many generated cases a property runs; `APPIA_HOSTILE_RUNS` turns it up for a longer hunt. */
export const RUNS = Number(process.env['APPIA_HOSTILE_RUNS'] ?? 120);
/** fast-check prints the seed and the shrunk counterexample when a property fails; `APPIA_HOSTILE_SEED` replays one. */
export function parameters<T>(numRuns = RUNS): fc.Parameters<T> {
  const seed = process.env['APPIA_HOSTILE_SEED'];
  return { numRuns, ...(seed ? { seed: Number(seed) } : {}) };
}

export async function openArena(settings: TestSettings = {}): Promise<Arena> {
  // small limits, so generated bodies reach them; no per-address failure limit (the suite sends bad tokens on purpose)
  const appia = await startTestAppia({ maxBodyBytes: 16384, maxPayloadBytes: 4096, maxJsonDepth: 8, authFailureLimit: 0, maxOpenCommands: 0, ...settings });
  const party = async (user: string): Promise<Party> => {
    const token = await appia.token(user);
    const devices = [await appia.addDevice(token, `${user} laptop`), await appia.addDevice(token, `${user} phone`)];
    const commands: Record<string, string[]> = {};
    for (const device of devices) {
      commands[device.id] = [];
      for (const uri of ['https://example.com/a', 'https://example.com/b']) {
        const res = await appia.api(token, 'POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri } });
        assert.equal(res.status, 201);
        commands[device.id]!.push(res.body.id);
      }
    }
    return { user, token, devices, commands };
  };
  const victim = await party('victim');
  const attacker = await party('attacker');
  return {
    appia,
    victim,
    attacker,
    async snapshot(users = [victim, attacker]) {
      const state: unknown[] = [];
      for (const { user } of users) {
        const devices = await appia.store.listDevices(user, { limit: 1000, offset: 0 });
        state.push(devices);
        for (const device of devices) state.push(await appia.store.listCommands(user, device.id, { limit: 100_000 }));
        // every history entry of the user's commands, in one read of the user's feed
        state.push(await appia.store.listUserHistorySince(user, 0, 1_000_000));
      }
      return JSON.stringify(state);
    },
    stop: () => appia.stop(),
  };
}

/**
 * A refusal as DESIGN 2 shapes it: a 4xx (never a 5xx), JSON, Graph's
 * envelope with a code, a message that says something, and a request-id.
 */
export function assertGraphRefusal(res: ApiResponse, what: string): void {
  assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
  const error = res.body?.error;
  assert.equal(typeof error?.code, 'string', `${what}: ${JSON.stringify(res.body)}`);
  assert.ok(typeof error.message === 'string' && error.message.length >= 8, `${what}: the message names the problem: ${JSON.stringify(error)}`);
  assert.equal(error.innerError?.['request-id'], res.headers.get('request-id'), what);
}

/** Sends raw bytes (or text) as the body, with the given content type. */
export async function sendRaw(appia: TestAppia, token: string, method: string, path: string, body: string | Uint8Array, contentType = 'application/json'): Promise<ApiResponse> {
  const res = await fetch(appia.url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body: body as BodyInit });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
