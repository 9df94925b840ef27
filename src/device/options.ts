import { WebSocket as NodeWebSocket } from 'ws';
import type { ReconnectOptions } from './backoff.js';
import { connectUrl } from './protocol.js';
import type { CommandHandler, DeviceLogger } from './types.js';

/** The part of a `ws` WebSocket the SDK uses; the `WebSocket` option may supply another class of this shape (tests do). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string, callback?: (err?: Error) => void): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
}

export type WebSocketConstructor = new (
  url: string,
  protocols: string[] | undefined,
  options: { headers: Record<string, string>; handshakeTimeout: number; ca?: string | Buffer | Array<string | Buffer> },
) => WebSocketLike;

/** Options of {@link connect}. Only `url` and `token` are required. */
export interface ConnectOptions {
  /** the server (`http://host:8080`, `https://...`) or its WebSocket URL (`wss://host/devices/connect`) */
  readonly url: string;
  /** the device token from registration, or a function that returns it (called before every connection attempt) */
  readonly token: string | (() => string | Promise<string>);
  /** handlers by command type: `{ LaunchUri: fn, AppService: fn }` (AppService here catches app services with no handler of their own) */
  readonly handlers?: Readonly<Record<string, CommandHandler>>;
  /** handlers by app service name: `{ ping: fn }` */
  readonly appServices?: Readonly<Record<string, CommandHandler>>;
  /** backoff between reconnect attempts, or false to close for good when the connection drops */
  readonly reconnect?: ReconnectOptions | false;
  /**
   * How the token is sent (DESIGN 4): `header` (default) as
   * `Authorization: Bearer`, or `subprotocol` as `Sec-WebSocket-Protocol:
   * appia.v1, token.<token>` for proxies and browser-like clients that cannot set headers.
   */
  readonly auth?: 'header' | 'subprotocol';
  /** ping the server this often and reconnect if no pong came back in time; 0 = off (default 30000) */
  readonly keepAliveMs?: number;
  /** give up on an opening handshake after this long and retry (default 10000) */
  readonly handshakeTimeoutMs?: number;
  /** extra trusted CA certificates for wss (e.g. a self-signed server certificate) */
  readonly ca?: string | Buffer | Array<string | Buffer>;
  /** the WebSocket class (default: the `ws` package's) */
  readonly WebSocket?: WebSocketConstructor;
  readonly logger?: DeviceLogger;
  /** [0, 1): the jitter seam */
  readonly random?: () => number;
  /** aborting it closes the connection, and makes a pending `connect()` reject (e.g. Ctrl-C while the server is unreachable) */
  readonly signal?: AbortSignal;
}

/** Options of {@link DeviceConnection.drain}. */
export interface DrainOptions {
  /** how long running handlers may go on before they are reported failed ("the device stopped"); default 10000 */
  readonly timeoutMs?: number;
}

export const DEFAULT_RECONNECT = { initialDelayMs: 500, maxDelayMs: 30_000 } as const;

export function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number of milliseconds >= 0 (got ${value})`);
  return value;
}

export function checkReconnect(options: Required<ReconnectOptions>): Required<ReconnectOptions> {
  const initialDelayMs = nonNegative('reconnect.initialDelayMs', options.initialDelayMs);
  const maxDelayMs = nonNegative('reconnect.maxDelayMs', options.maxDelayMs);
  if (initialDelayMs === 0 || maxDelayMs < initialDelayMs) {
    throw new RangeError('reconnect.initialDelayMs must be above 0 and at most reconnect.maxDelayMs');
  }
  return { initialDelayMs, maxDelayMs };
}

/** ConnectOptions checked once, with their defaults. */
export interface DeviceSettings {
  readonly url: string;
  readonly token: ConnectOptions['token'];
  readonly auth: 'header' | 'subprotocol';
  readonly reconnect: Required<ReconnectOptions> | false;
  readonly keepAliveMs: number;
  readonly handshakeTimeoutMs: number;
  readonly ca: ConnectOptions['ca'];
  readonly WebSocket: WebSocketConstructor;
  readonly logger: DeviceLogger;
  readonly random: () => number;
}

/** Checks the options of connect(); throws TypeError / RangeError naming the option at fault. */
export function deviceSettings(options: ConnectOptions): DeviceSettings {
  if (typeof options.token !== 'function' && (typeof options.token !== 'string' || options.token === '')) {
    throw new TypeError('token must be the device token (a non-empty string) or a function returning it');
  }
  return {
    url: connectUrl(options.url),
    token: options.token,
    auth: options.auth ?? 'header',
    reconnect: options.reconnect === false ? false : checkReconnect({ ...DEFAULT_RECONNECT, ...options.reconnect }),
    keepAliveMs: nonNegative('keepAliveMs', options.keepAliveMs ?? 30_000),
    handshakeTimeoutMs: nonNegative('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 10_000),
    ca: options.ca,
    WebSocket: options.WebSocket ?? (NodeWebSocket as unknown as WebSocketConstructor),
    logger: options.logger ?? {},
    random: options.random ?? Math.random,
  };
}
