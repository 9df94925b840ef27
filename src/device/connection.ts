import { randomBytes } from 'node:crypto';
import { CommandRunner } from './command-runner.js';
import { DeviceAuthError, DeviceClosedError, ReportRefusedError } from './errors.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { parseServerFrame, type DeviceCommand, type Report } from './protocol.js';
import { HandlerTable } from './handlers.js';
import { StatusChannel } from './status-channel.js';
import type { CommandHandler, ConnectionStatus, DeviceLogger } from './types.js';
import { deviceSettings, type ConnectOptions, type DeviceSettings, type DrainOptions, type WebSocketLike } from './options.js';
import { Link } from './link.js';
import { describeReport, rawText, settlesWithin } from './wire-text.js';

export type { ConnectOptions, DrainOptions, WebSocketConstructor, WebSocketLike } from './options.js';

/** after a drain gave up on running handlers, how long it waits for the server to ack their reports */
const ACK_GRACE_MS = 2000;

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
  readonly #o: DeviceSettings;
  readonly #logger: DeviceLogger;
  readonly #handlers = new HandlerTable();
  readonly #outbox = new Outbox((n) => randomBytes(n));
  readonly #status = new StatusChannel<ConnectionStatus>();
  readonly #runner: CommandRunner;

  readonly #link: Link;
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
    void connection.#link.dial();
    await connection.#firstOpen;
    return connection;
  }

  private constructor(options: ConnectOptions) {
    this.#o = deviceSettings(options);
    this.#logger = this.#o.logger;
    this.#link = new Link(this.#o, {
      opened: (socket, reconnect) => this.#opened(socket, reconnect),
      message: (data, isBinary) => this.#onMessage(data, isBinary),
      disconnected: (info) => {
        this.#logger.info?.(`disconnected (${info.code}${info.reason ? ` ${info.reason}` : ''})`);
        this.#status.push({ type: 'disconnected', code: info.code, reason: info.reason, ...(info.error ? { error: info.error } : {}) });
      },
      reconnecting: (attempt, delayMs, error) => this.#status.push({ type: 'reconnecting', attempt, delayMs, ...(error ? { error } : {}) }),
      failed: (error) => void this.#shutdown(error),
    });
    for (const [type, fn] of Object.entries(options.handlers ?? {})) this.handle(type, fn);
    for (const [name, fn] of Object.entries(options.appServices ?? {})) this.handleAppService(name, fn);
    this.#runner = new CommandRunner({
      send: (report, command) => this.#send(report, command),
      resend: (entry) => this.#transmit(entry),
      isPending: (entry) => this.#outbox.isPending(entry),
      findHandler: (command) => this.#handlers.find(command),
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
    this.#handlers.handle(type, handler);
    return this;
  }

  /**
   * Handles AppService commands for one app service name.
   *
   * @example
   * device.handleAppService('ping', async (command) => ({ pong: true, payload: command.payload }));
   */
  handleAppService(name: string, handler: CommandHandler): this {
    this.#handlers.handleAppService(name, handler);
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
    return this.#link.isOpen;
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
   * Closes gracefully (DESIGN 4): takes no new commands (they stay queued on
   * the server for the next connection), lets running handlers finish for up
   * to `timeoutMs` (default 10 s), then reports each one still running as
   * `failed` ("the device stopped") and aborts its signal, waits briefly for
   * the server to ack every report, and closes.
   */
  async drain(options: DrainOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#runner.stopAccepting();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const finished = await settlesWithin(this.#runner.whenIdle(), timeoutMs);
    if (!finished) {
      const stopped = this.#runner.stopRunning();
      this.#logger.info?.(`${stopped} command(s) still running after ${timeoutMs} ms: reported failed (the device stopped)`);
    }
    await settlesWithin(this.#outbox.whenEmpty(), finished ? timeoutMs : ACK_GRACE_MS);
    return this.#shutdown(undefined);
  }

  /**
   * Closes at once. Running handlers see their signal aborted; reports the
   * server has not acked are dropped (use {@link drain} to keep them).
   */
  close(): Promise<void> {
    return this.#shutdown(undefined);
  }

  #opened(socket: WebSocketLike, reconnect: boolean): void {
    this.#logger.info?.(`connected to ${this.#o.url}`);
    // DESIGN 4: re-send every report the server has not acked, in order, before anything new.
    let stateQueued = false;
    for (const entry of this.#outbox.pending()) {
      socket.send(entry.text);
      if (entry.report.t === 'state') stateQueued = true;
    }
    // The server counts a fresh connection as Online; a device still in standby says so again.
    if (this.#standby && !stateQueued) this.#send({ t: 'state', state: 'standby' });
    this.#status.push({ type: 'connected', url: this.#o.url, reconnect });
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
        this.#runner.onCommand(frame.command, frame.resumed);
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

  #send(report: Report, command?: DeviceCommand): OutboxEntry {
    const entry = this.#outbox.add(report);
    if (entry.outcome?.kind === 'abandoned') return entry;
    this.#transmit(entry);
    this.#status.push({ type: 'report', ref: entry.ref, report, ...(command ? { command } : {}) });
    return entry;
  }

  #transmit(entry: OutboxEntry): void {
    // not open: sent on the next connection
    this.#link.send(entry.text, (err) =>
      this.#logger.debug?.(`report ${entry.ref} not written (${err.message}); it is sent again after reconnecting`),
    );
  }

  #shutdown(error: Error | undefined): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      this.#runner.abortAll('the device connection was closed');
      this.#outbox.close();
      await this.#link.close();
      if (error) this.#logger.error?.(error.message);
      this.#status.push({ type: 'closed', ...(error ? { error } : {}) });
      this.#status.end();
      this.#settleFirstOpen(error ?? new DeviceClosedError('the device connection was closed before it opened'));
      this.#resolveClosed(error);
    })();
    return this.#closing;
  }
}
