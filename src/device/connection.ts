import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket as NodeWebSocket } from 'ws';
import { reconnectDelay, type ReconnectOptions } from './backoff.js';
import { CommandRunner } from './command-runner.js';
import { DeviceAuthError, DeviceClosedError, ReportRefusedError } from './errors.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { connectUrl, parseServerFrame, type DeviceCommand, type Report } from './protocol.js';
import { StatusChannel } from './status-channel.js';
import type { CommandHandler, ConnectionStatus, DeviceLogger } from './types.js';

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
  /** close anyway after this long (default 10000) */
  readonly timeoutMs?: number;
}

const OPEN = 1;
const DEFAULT_RECONNECT = { initialDelayMs: 500, maxDelayMs: 30_000 } as const;
/** how long close() waits for the server's closing handshake before dropping the socket */
const CLOSE_GRACE_MS = 1000;

/**
 * Connects a device to Appia (DESIGN 4) and keeps it connected: reconnects
 * with backoff and jitter, sends every report until the server acks it, and
 * never runs a command twice. Resolves once the first connection is open;
 * rejects with {@link DeviceAuthError} if the server refuses the token.
 *
 * Register handlers in the options, or right after `await connect()`
 * (commands waiting for the device arrive at once, and are dispatched after
 * the current tick).
 *
 * @example
 * import { connect } from 'appia/device';
 *
 * const device = await connect({
 *   url: 'http://127.0.0.1:8080',
 *   token: process.env.APPIA_DEVICE_TOKEN!,
 *   handlers: { LaunchUri: async (command) => ({ opened: command.payload?.uri }) },
 *   appServices: {
 *     ping: async (command, ctx) => {
 *       await ctx.progress('thinking');
 *       return { pong: true, payload: command.payload };
 *     },
 *   },
 * });
 * (async () => { for await (const s of device.status()) console.log(s.type); })();
 * process.on('SIGINT', () => void device.drain());
 * const err = await device.closed();
 */
export function connect(options: ConnectOptions): Promise<DeviceConnection> {
  return DeviceConnection.open(options);
}

/** A device's connection to Appia; made by {@link connect}. */
export class DeviceConnection {
  readonly #url: string;
  readonly #token: ConnectOptions['token'];
  readonly #auth: 'header' | 'subprotocol';
  readonly #reconnect: Required<ReconnectOptions> | false;
  readonly #keepAliveMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #ca: ConnectOptions['ca'];
  readonly #WebSocket: WebSocketConstructor;
  readonly #logger: DeviceLogger;
  readonly #random: () => number;
  readonly #handlers = new Map<string, CommandHandler>();
  readonly #appServices = new Map<string, CommandHandler>();
  readonly #outbox = new Outbox((n) => randomBytes(n));
  readonly #status = new StatusChannel<ConnectionStatus>();
  readonly #runner: CommandRunner;

  /** the open socket, if any */
  #socket: WebSocketLike | undefined;
  /** the socket still in its opening handshake, if any */
  #dialing: WebSocketLike | undefined;
  #failedAttempts = 0;
  #everConnected = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #standby = false;
  #closing: Promise<void> | undefined;
  readonly #closed: Promise<Error | undefined>;
  #resolveClosed!: (error: Error | undefined) => void;
  readonly #firstOpen: Promise<void>;
  #settleFirstOpen!: (error?: Error) => void;

  /** @internal use {@link connect} */
  static async open(options: ConnectOptions): Promise<DeviceConnection> {
    const connection = new DeviceConnection(options);
    if (options.signal?.aborted) throw new DeviceClosedError('aborted before connecting');
    options.signal?.addEventListener('abort', () => void connection.close(), { once: true });
    void connection.#dial();
    await connection.#firstOpen;
    return connection;
  }

  private constructor(options: ConnectOptions) {
    this.#url = connectUrl(options.url);
    if (typeof options.token !== 'function' && (typeof options.token !== 'string' || options.token === '')) {
      throw new TypeError('token must be the device token (a non-empty string) or a function returning it');
    }
    this.#token = options.token;
    this.#auth = options.auth ?? 'header';
    this.#reconnect = options.reconnect === false ? false : checkReconnect({ ...DEFAULT_RECONNECT, ...options.reconnect });
    this.#keepAliveMs = nonNegative('keepAliveMs', options.keepAliveMs ?? 30_000);
    this.#handshakeTimeoutMs = nonNegative('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 10_000);
    this.#ca = options.ca;
    this.#WebSocket = options.WebSocket ?? (NodeWebSocket as unknown as WebSocketConstructor);
    this.#logger = options.logger ?? {};
    this.#random = options.random ?? Math.random;
    for (const [type, fn] of Object.entries(options.handlers ?? {})) this.handle(type, fn);
    for (const [name, fn] of Object.entries(options.appServices ?? {})) this.handleAppService(name, fn);
    this.#runner = new CommandRunner({
      send: (report, command) => this.#send(report, command),
      resend: (entry) => this.#transmit(entry),
      isPending: (entry) => this.#outbox.isPending(entry),
      findHandler: (command) => this.#findHandler(command),
      defer: (fn) => setImmediate(fn),
      logger: this.#logger,
    });
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#firstOpen = new Promise<void>((resolve, reject) => {
      this.#settleFirstOpen = (error) => (error ? reject(error) : resolve());
    });
  }

  /**
   * Handles every command of a type (`LaunchUri`, `AppService`). For
   * AppService, a handler of the app service's own name wins.
   *
   * @example
   * device.handle('LaunchUri', async (command) => { await open(String(command.payload?.uri)); });
   */
  handle(type: 'LaunchUri' | 'AppService' | (string & {}), handler: CommandHandler): this {
    this.#handlers.set(type, handler);
    return this;
  }

  /**
   * Handles AppService commands for one app service name.
   *
   * @example
   * device.handleAppService('ping', async (command) => ({ pong: true, payload: command.payload }));
   */
  handleAppService(name: string, handler: CommandHandler): this {
    this.#appServices.set(name, handler);
    return this;
  }

  /**
   * Enters or leaves standby (DESIGN 4, `{"t":"state"}`): the device shows as
   * `Standby`, and while it is on, new commands are answered `dropped` and
   * end `commandDropped` (like Windows ConnectedStandby). Resolves once the
   * server has recorded the state; rejects if it refused it or the
   * connection closed first. Kept across reconnects.
   *
   * @example
   * await device.standby(true);   // lid closed
   * await device.standby(false);  // back
   */
  async standby(on: boolean): Promise<void> {
    if (this.#closing) throw new DeviceClosedError();
    this.#standby = on;
    this.#runner.standby = on;
    const entry = this.#send({ t: 'state', state: on ? 'standby' : 'active' });
    const outcome = await entry.settled;
    if (outcome.kind === 'nacked') throw new ReportRefusedError(entry.ref, outcome.error);
    if (outcome.kind === 'abandoned') throw new DeviceClosedError();
  }

  /** True while in standby. */
  get isStandby(): boolean {
    return this.#standby;
  }

  /** True while the WebSocket is open. */
  get isConnected(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * What happens to the connection from now on, as an async iterable
   * (see {@link ConnectionStatus}). It ends when the connection is closed for good.
   *
   * @example
   * for await (const s of device.status()) if (s.type === 'disconnected') console.warn('offline', s.reason);
   */
  status(): AsyncIterableIterator<ConnectionStatus> {
    return this.#status.iterate();
  }

  /**
   * Resolves when the connection is closed for good: with undefined after
   * `close()`/`drain()`, or with the error that stopped it (a refused token).
   */
  closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  /**
   * Closes gracefully: takes no new commands (they stay queued on the server
   * for the next connection), lets running handlers finish and waits for the
   * server to ack every report, then closes. Gives up waiting after
   * `timeoutMs`.
   */
  async drain(options: DrainOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#runner.stopAccepting();
    const timeoutMs = options.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const settled = this.#runner.whenIdle().then(() => this.#outbox.whenEmpty());
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([settled, timeout]);
    clearTimeout(timer);
    return this.#shutdown(undefined);
  }

  /**
   * Closes at once. Running handlers see their signal aborted; reports the
   * server has not acked are dropped (use {@link drain} to keep them).
   */
  close(): Promise<void> {
    return this.#shutdown(undefined);
  }

  async #dial(): Promise<void> {
    if (this.#closing) return;
    let token: string;
    try {
      token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    } catch (err) {
      this.#logger.warn?.(`the device token provider failed: ${(err as Error)?.message ?? err}`);
      return this.#retry(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.#closing) return;
    if (typeof token !== 'string' || token === '') {
      void this.#shutdown(new TypeError('the device token provider returned no token'));
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(this.#url, this.#auth === 'subprotocol' ? ['appia.v1', `token.${token}`] : undefined, {
        headers: this.#auth === 'header' ? { authorization: `Bearer ${token}` } : {},
        handshakeTimeout: this.#handshakeTimeoutMs,
        ...(this.#ca === undefined ? {} : { ca: this.#ca }),
      });
    } catch (err) {
      // A URL or token the WebSocket cannot even send: retrying would not help.
      void this.#shutdown(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.#dialing = socket;
    let opened = false;
    let refusedWith: number | undefined;
    let refusedBecause: string | undefined;
    let lastError: Error | undefined;
    socket.on('unexpected-response', (_request: unknown, response: IncomingMessage) => {
      // Not upgraded: read the server's short explanation (Graph's error shape), then drop the socket.
      refusedWith = response.statusCode;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      const done = () => {
        clearTimeout(timer);
        refusedBecause ??= errorMessageOf(body);
        socket.terminate();
      };
      const timer = setTimeout(done, 2000);
      response.once('end', done);
      response.once('error', done);
      response.once('close', done);
    });
    socket.on('open', () => {
      opened = true;
      this.#onOpen(socket);
    });
    socket.on('message', (data: unknown, isBinary: boolean) => this.#onMessage(data, isBinary));
    socket.on('error', (err: Error) => {
      lastError = err;
      this.#logger.debug?.(`device connection error: ${err.message}`);
    });
    socket.on('close', (code: number, reason: Buffer | string) => {
      this.#onClose(socket, { opened, code, reason: String(reason ?? ''), refusedWith, refusedBecause, error: lastError });
    });
  }

  #onOpen(socket: WebSocketLike): void {
    this.#dialing = undefined;
    if (this.#closing) {
      socket.close(1000, 'closing');
      return;
    }
    this.#socket = socket;
    const reconnect = this.#everConnected;
    this.#everConnected = true;
    this.#failedAttempts = 0;
    this.#logger.info?.(`connected to ${this.#url}`);
    // DESIGN 4: re-send every report the server has not acked, in order, before anything new.
    let stateQueued = false;
    for (const entry of this.#outbox.pending()) {
      socket.send(entry.text);
      if (entry.report.t === 'state') stateQueued = true;
    }
    // The server counts a fresh connection as Online; a device still in standby says so again.
    if (this.#standby && !stateQueued) this.#send({ t: 'state', state: 'standby' });
    this.#startKeepAlive(socket);
    this.#status.push({ type: 'connected', url: this.#url, reconnect });
    this.#settleFirstOpen();
  }

  #onMessage(data: unknown, isBinary: boolean): void {
    if (isBinary) {
      this.#logger.warn?.('ignored a binary frame from the server (the protocol is JSON text)');
      return;
    }
    const frame = parseServerFrame(rawText(data));
    if ('invalid' in frame) {
      this.#logger.warn?.(`ignored a frame from the server: ${frame.invalid}`);
      return;
    }
    switch (frame.t) {
      case 'command':
        this.#runner.onCommand(frame.command);
        return;
      case 'cancel':
        this.#runner.onCancel(frame.id);
        return;
      case 'ack':
        this.#outbox.settle(frame.ref, { kind: 'acked' });
        return;
      case 'nack': {
        // DESIGN 4: a nack is final for that report; it is logged, not retried.
        const entry = frame.ref === null ? undefined : this.#outbox.settle(frame.ref, { kind: 'nacked', error: frame.error });
        const what = entry ? describeReport(entry.report) : frame.ref === null ? 'a frame' : `report ${frame.ref}`;
        this.#logger.warn?.(`the server refused ${what}: ${frame.error}`);
        this.#status.push({ type: 'nack', ref: frame.ref, error: frame.error, ...(entry ? { report: entry.report } : {}) });
        return;
      }
      default:
        frame satisfies never;
    }
  }

  #onClose(
    socket: WebSocketLike,
    info: { opened: boolean; code: number; reason: string; refusedWith: number | undefined; refusedBecause: string | undefined; error: Error | undefined },
  ): void {
    if (this.#dialing === socket) this.#dialing = undefined;
    if (this.#socket === socket) {
      this.#socket = undefined;
      clearInterval(this.#keepAliveTimer);
    }
    if (info.opened) {
      this.#logger.info?.(`disconnected (${info.code}${info.reason ? ` ${info.reason}` : ''})`);
      this.#status.push({ type: 'disconnected', code: info.code, reason: info.reason, ...(info.error ? { error: info.error } : {}) });
    }
    if (this.#closing) return;
    const because = info.refusedBecause ? `: ${info.refusedBecause}` : '';
    if (info.refusedWith === 401 || info.refusedWith === 403) {
      // DESIGN 4: an unknown or revoked token is refused with 401; asking again would not change that.
      void this.#shutdown(new DeviceAuthError(info.refusedWith, info.refusedBecause));
      return;
    }
    if (info.refusedWith === 400) {
      // The request itself is wrong (e.g. a subprotocol the server does not take): the same request would fail again.
      void this.#shutdown(new Error(`the server refused the connection request (HTTP 400)${because}`));
      return;
    }
    const error = info.refusedWith !== undefined ? new Error(`the server answered HTTP ${info.refusedWith} instead of a WebSocket${because}`) : info.error;
    this.#retry(error);
  }

  #retry(error: Error | undefined): void {
    if (this.#closing) return;
    if (this.#reconnect === false) {
      void this.#shutdown(error ?? new DeviceClosedError('the connection was lost and reconnect is off'));
      return;
    }
    const attempt = ++this.#failedAttempts;
    const delayMs = reconnectDelay(attempt, this.#reconnect, this.#random);
    this.#logger.info?.(`reconnecting in ${delayMs} ms (attempt ${attempt})${error ? `: ${error.message}` : ''}`);
    this.#status.push({ type: 'reconnecting', attempt, delayMs, ...(error ? { error } : {}) });
    this.#reconnectTimer = setTimeout(() => void this.#dial(), delayMs);
  }

  #send(report: Report, command?: DeviceCommand): OutboxEntry {
    const entry = this.#outbox.add(report);
    if (entry.outcome?.kind === 'abandoned') return entry;
    this.#transmit(entry);
    this.#status.push({ type: 'report', ref: entry.ref, report, ...(command ? { command } : {}) });
    return entry;
  }

  #transmit(entry: OutboxEntry): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) return; // sent on the next connection
    socket.send(entry.text, (err) => {
      if (err) this.#logger.debug?.(`report ${entry.ref} not written (${err.message}); it is sent again after reconnecting`);
    });
  }

  #findHandler(command: DeviceCommand): CommandHandler | string {
    if (command.type === 'AppService') {
      const name = command.appServiceName ?? '';
      const handler = this.#appServices.get(name) ?? this.#handlers.get('AppService');
      if (handler) return handler;
      const served = [...this.#appServices.keys()];
      return `this device has no app service ${JSON.stringify(name)}${served.length ? ` (it serves: ${served.join(', ')})` : ''}`;
    }
    return this.#handlers.get(command.type) ?? `this device does not handle ${command.type} commands`;
  }

  #startKeepAlive(socket: WebSocketLike): void {
    clearInterval(this.#keepAliveTimer);
    if (this.#keepAliveMs === 0) return;
    let answered = true;
    socket.on('pong', () => (answered = true));
    this.#keepAliveTimer = setInterval(() => {
      if (!answered) {
        this.#logger.warn?.(`no answer from the server in ${this.#keepAliveMs} ms; reconnecting`);
        socket.terminate();
        return;
      }
      answered = false;
      try {
        socket.ping();
      } catch {
        // closing already: the close event takes over
      }
    }, this.#keepAliveMs);
    this.#keepAliveTimer.unref();
  }

  #shutdown(error: Error | undefined): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      clearTimeout(this.#reconnectTimer);
      clearInterval(this.#keepAliveTimer);
      this.#runner.abortAll('the device connection was closed');
      this.#outbox.close();
      const socket = this.#socket ?? this.#dialing;
      if (socket) {
        const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        if (socket === this.#socket) {
          socket.close(1000, 'closing');
          const force = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
          await gone;
          clearTimeout(force);
        } else {
          socket.terminate();
          await gone;
        }
      }
      if (error) this.#logger.error?.(error.message);
      this.#status.push({ type: 'closed', ...(error ? { error } : {}) });
      this.#status.end();
      this.#settleFirstOpen(error ?? new DeviceClosedError('the device connection was closed before it opened'));
      this.#resolveClosed(error);
    })();
    return this.#closing;
  }
}

function rawText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return String(data);
}

/** the `message` of a Graph-style error body, if that is what it is */
function errorMessageOf(body: string): string | undefined {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } })?.error?.message;
    return typeof message === 'string' && message ? message : undefined;
  } catch {
    return body.trim().slice(0, 200) || undefined;
  }
}

function describeReport(report: Report): string {
  return report.t === 'state' ? `the ${report.state} state` : `the ${report.t} report for command ${report.id}`;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a number of milliseconds >= 0 (got ${value})`);
  return value;
}

function checkReconnect(options: Required<ReconnectOptions>): Required<ReconnectOptions> {
  const initialDelayMs = nonNegative('reconnect.initialDelayMs', options.initialDelayMs);
  const maxDelayMs = nonNegative('reconnect.maxDelayMs', options.maxDelayMs);
  if (initialDelayMs === 0 || maxDelayMs < initialDelayMs) {
    throw new RangeError('reconnect.initialDelayMs must be above 0 and at most reconnect.maxDelayMs');
  }
  return { initialDelayMs, maxDelayMs };
}
