import type { DeviceJson, DeviceRef } from './types.js';
import { CliError } from './cli.js';
import { hint } from './invocation.js';
import { escapeControl } from './terminal-text.js';

/** Where the CLI's HTTP commands go and as whom: `--server`/`APPIA_URL`, `--token`/`APPIA_TOKEN`. */
export interface ServerTarget {
  readonly server: string;
  readonly token: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** The parseArgs options every HTTP command takes. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The help lines of SERVER_OPTIONS. */
export function serverOptionsHelp(): string {
  return [
    `  --server URL   the Appia server (default $APPIA_URL or ${DEFAULT_SERVER})`,
    `  --token T      a user token (default $APPIA_TOKEN; mint one with \`${hint('token --user NAME')}\`)`,
    '  --json         print the server\'s JSON instead of text, for scripts',
    '  -h, --help     this help',
  ].join('\n');
}

export function serverTarget(values: { server?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): ServerTarget {
  const server = serverUrl(values, env);
  const token = values.token ?? env['APPIA_TOKEN'];
  if (!token) throw new CliError(`a user token is needed: pass --token or set APPIA_TOKEN (mint one with \`${hint('token --user NAME')}\`)`);
  return { server, token };
}

/** The server's URL from `--server` / `APPIA_URL` (default DEFAULT_SERVER), without a trailing slash. */
export function serverUrl(values: { server?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string {
  const server = (values.server ?? env['APPIA_URL'] ?? DEFAULT_SERVER).replace(/\/+$/, '');
  try {
    const url = new URL(server);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    throw new CliError(`--server must be an http(s) URL (got ${JSON.stringify(server)})`);
  }
  return server;
}

/** A Graph error answer (DESIGN 2): printed as `error: <code>: <message>`. */
export class GraphError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'GraphError';
    this.status = status;
    this.code = code;
  }
}

/** The server could not be reached at all. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** A small client for the Graph-compatible API under `/beta`. */
export class ApiClient {
  readonly #target: ServerTarget;
  readonly #fetch: typeof fetch;

  constructor(target: ServerTarget, fetchImpl: typeof fetch = fetch) {
    this.#target = target;
    this.#fetch = fetchImpl;
  }

  get server(): string {
    return this.#target.server;
  }

  /** `path` is under `/beta` (e.g. `/me/devices`), or an absolute URL (an `@odata.nextLink`). */
  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const url = /^https?:/.test(path) ? path : `${this.#target.server}/beta${path}`;
    const init: RequestInit = { method, headers: { authorization: `Bearer ${this.#target.token}`, accept: 'application/json', ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await this.#fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new UnreachableError(`cannot reach the Appia server at ${this.#target.server} (${cause}); is it running? (${hint('serve')})`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (error && typeof error.code === 'string') throw new GraphError(response.status, error.code, String(error.message ?? ''));
      throw new GraphError(response.status, `HTTP ${response.status}`, text.slice(0, 200) || response.statusText);
    }
    return parsed as T;
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, body, headers);
  }

  /**
   * Every item of a collection, following `@odata.nextLink`. A link to
   * another origin than the server's is refused rather than sent the token.
   */
  async all<T = any>(path: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = path;
    while (next) {
      const page: { value: T[]; '@odata.nextLink'?: string } = await this.get(next);
      items.push(...page.value);
      next = page['@odata.nextLink'];
      if (next !== undefined) this.checkNextLink(next);
    }
    return items;
  }

  /** Throws unless `link` is on the server's own origin (the token goes with it). */
  checkNextLink(link: string): void {
    let origin: string | undefined;
    try {
      origin = new URL(link).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== new URL(this.#target.server).origin) {
      throw new UnreachableError(`the server's @odata.nextLink ${JSON.stringify(link)} is not on ${this.#target.server}; not sending the token there (set APPIA_PUBLIC_URL on the server, or --server to the URL it names)`);
    }
  }
}

/**
 * Runs an HTTP command, printing the server's Graph errors as
 * `error: <code>: <message>` (exit 1) and an unreachable server plainly.
 */
export async function reportingApiErrors(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    // DESIGN 4: the server's text is printed with its control characters escaped.
    if (err instanceof GraphError) {
      console.error(escapeControl(`error: ${err.code}: ${err.message}`));
      return 1;
    }
    if (err instanceof UnreachableError) {
      console.error(escapeControl(`error: ${err.message}`));
      return 1;
    }
    throw err;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A device given by id, or by its name when that names exactly one of the caller's devices. */
export async function resolveDevice(client: ApiClient, idOrName: string): Promise<DeviceRef> {
  if (UUID.test(idOrName)) return { id: idOrName, name: null };
  const devices = await client.all<DeviceJson>('/me/devices');
  const matches = devices.filter((d) => d.name.toLowerCase() === idOrName.toLowerCase());
  if (matches.length === 1) return { id: matches[0]!.id, name: matches[0]!.name };
  if (matches.length === 0) throw new CliError(`no device is named ${JSON.stringify(idOrName)} (${hint('devices')} lists them)`, 1);
  throw new CliError(`${matches.length} devices are named ${JSON.stringify(idOrName)}; give the device id instead`, 1);
}
