import { CliError } from './cli.js';

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

export const SERVER_OPTIONS_HELP = [
  '  --server URL   the Appia server (default $APPIA_URL or http://127.0.0.1:8080)',
  '  --token T      a user token (default $APPIA_TOKEN; mint one with `appia token --user NAME`)',
  '  --json         print the server\'s JSON instead of a table, for scripts',
].join('\n');

export function serverTarget(values: { server?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): ServerTarget {
  const server = (values.server ?? env['APPIA_URL'] ?? DEFAULT_SERVER).replace(/\/+$/, '');
  try {
    const url = new URL(server);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    throw new CliError(`--server must be an http(s) URL (got ${JSON.stringify(server)})`);
  }
  const token = values.token ?? env['APPIA_TOKEN'];
  if (!token) throw new CliError('a user token is needed: pass --token or set APPIA_TOKEN (mint one with `appia token --user NAME`)');
  return { server, token };
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
      throw new UnreachableError(`cannot reach the Appia server at ${this.#target.server} (${cause}); is it running? (appia serve)`);
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

  /** Every item of a collection, following `@odata.nextLink`. */
  async all<T = any>(path: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = path;
    while (next) {
      const page: { value: T[]; '@odata.nextLink'?: string } = await this.get(next);
      items.push(...page.value);
      next = page['@odata.nextLink'];
    }
    return items;
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
    if (err instanceof GraphError) {
      console.error(`error: ${err.code}: ${err.message}`);
      return 1;
    }
    if (err instanceof UnreachableError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A device given by id, or by its name when that names exactly one of the caller's devices. */
export async function resolveDevice(client: ApiClient, idOrName: string): Promise<{ id: string; name: string | null }> {
  if (UUID.test(idOrName)) return { id: idOrName, name: null };
  const devices = await client.all<{ id: string; name: string }>('/me/devices');
  const matches = devices.filter((d) => d.name.toLowerCase() === idOrName.toLowerCase());
  if (matches.length === 1) return { id: matches[0]!.id, name: matches[0]!.name };
  if (matches.length === 0) throw new CliError(`no device is named ${JSON.stringify(idOrName)} (appia devices lists them)`, 1);
  throw new CliError(`${matches.length} devices are named ${JSON.stringify(idOrName)}; give the device id instead`, 1);
}
