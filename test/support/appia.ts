import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../../src/config.js';
import { startAppia, type RunningAppia, type StartOverrides } from '../../src/server.js';

/** Settings a test may change; keys are Config's. */
export type TestSettings = { -readonly [K in keyof Config]?: Config[K] };

export interface TestAppia extends RunningAppia {
  readonly dataDir: string;
  readonly config: Config;
  /** a user token from the embedded issuer */
  token(user: string, options?: { scopes?: readonly string[]; appOnly?: boolean; ttlSeconds?: number }): Promise<string>;
  /** fetch against the server with a bearer token; JSON bodies are sent as JSON */
  api(token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  /** registers a device for the user and returns its id and device token */
  addDevice(userToken: string, name?: string): Promise<{ id: string; deviceToken: string }>;
  /** closes the server and deletes the data folder (unless keepData) */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  /** parsed JSON, or undefined for an empty body */
  readonly body: any;
}

/**
 * Starts a real Appia node on 127.0.0.1 with a fresh data folder (or the
 * given one, to test restarts), quiet logs and no rate limit unless asked.
 */
export async function startTestAppia(settings: TestSettings = {}, overrides: StartOverrides & { dataDir?: string } = {}): Promise<TestAppia> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'appia-test-')));
  const config = Object.freeze({
    ...parseConfig([], {}),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    logLevel: 'silent',
    rateLimit: 0,
    ...settings,
  }) as Config;
  const running = await startAppia(config, overrides);
  const api: TestAppia['api'] = async (token, method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(running.url + path, init);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
  return {
    ...running,
    dataDir,
    config,
    token: (user, options) => running.mintToken!(user, options),
    api,
    async addDevice(userToken, name = 'test device') {
      const res = await api(userToken, 'POST', '/beta/me/devices', { name, kind: 'Desktop', platform: 'Linux' });
      if (res.status !== 201) throw new Error(`device registration failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id, deviceToken: res.body.deviceToken };
    },
    async stop(options = {}) {
      await running.close();
      if (!options.keepData && !overrides.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
