import { reconnectDelay } from './backoff.js';
import { DeviceAuthError, DeviceClosedError } from './errors.js';
import type { DeviceSettings, WebSocketLike } from './options.js';
import { keepAlive, watchSocket, type SocketClosed } from './socket.js';

/** What the link tells the device connection. */
export interface LinkEvents {
  /** a WebSocket opened (`reconnect`: not the first) */
  opened(socket: WebSocketLike, reconnect: boolean): void;
  message(data: unknown, isBinary: boolean): void;
  /** an open WebSocket closed; a reconnect follows unless the link gave up */
  disconnected(closed: SocketClosed): void;
  reconnecting(attempt: number, delayMs: number, error: Error | undefined): void;
  /** the link gave up for good (a refused token, reconnect off, ...) */
  failed(error: Error): void;
}

const OPEN = 1;
/** how long close() waits for the server's closing handshake before dropping the socket */
const CLOSE_GRACE_MS = 1000;

/**
 * A WebSocket to the server that reconnects (DESIGN 4): dials with the
 * device token, keeps the connection alive with pings, and after a drop
 * dials again with backoff and jitter, reset once a connection opens. A
 * refusal that asking again would not change (401, 403, 400) is final.
 */
export class Link {
  readonly #o: DeviceSettings;
  readonly #events: LinkEvents;
  /** the open socket, if any */
  #socket: WebSocketLike | undefined;
  /** the socket still in its opening handshake, if any */
  #dialing: WebSocketLike | undefined;
  #failedAttempts = 0;
  #everConnected = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(settings: DeviceSettings, events: LinkEvents) {
    this.#o = settings;
    this.#events = events;
  }

  get isOpen(): boolean {
    return this.#socket !== undefined;
  }

  /** writes a frame now if the socket is open; false when it is not (the caller re-sends on the next connection) */
  send(text: string, onError: (err: Error) => void): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(text, (err) => {
      if (err) onError(err);
    });
    return true;
  }

  async dial(): Promise<void> {
    if (this.#closed) return;
    const { logger } = this.#o;
    let token: string;
    try {
      token = typeof this.#o.token === 'function' ? await this.#o.token() : this.#o.token;
    } catch (err) {
      logger.warn?.(`the device token provider failed: ${(err as Error)?.message ?? err}`);
      return this.#retry(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.#closed) return;
    if (typeof token !== 'string' || token === '') return this.#fail(new TypeError('the device token provider returned no token'));
    let socket: WebSocketLike;
    try {
      socket = new this.#o.WebSocket(this.#o.url, this.#o.auth === 'subprotocol' ? ['appia.v1', `token.${token}`] : undefined, {
        headers: this.#o.auth === 'header' ? { authorization: `Bearer ${token}` } : {},
        handshakeTimeout: this.#o.handshakeTimeoutMs,
        ...(this.#o.ca === undefined ? {} : { ca: this.#o.ca }),
      });
    } catch (err) {
      // A URL or token the WebSocket cannot even send: retrying would not help.
      return this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
    this.#dialing = socket;
    watchSocket(socket, {
      onOpen: () => this.#opened(socket),
      onMessage: (data, isBinary) => this.#events.message(data, isBinary),
      onError: (err) => logger.debug?.(`device connection error: ${err.message}`),
      onClose: (closed) => this.#onClose(socket, closed),
    });
  }

  /** Closes for good: the open socket with a closing handshake (cut after a grace), a dialing one at once. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#keepAliveTimer);
    const socket = this.#socket ?? this.#dialing;
    if (!socket) return;
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

  #opened(socket: WebSocketLike): void {
    this.#dialing = undefined;
    if (this.#closed) {
      socket.close(1000, 'closing');
      return;
    }
    this.#socket = socket;
    const reconnect = this.#everConnected;
    this.#everConnected = true;
    this.#failedAttempts = 0;
    clearInterval(this.#keepAliveTimer);
    this.#keepAliveTimer = keepAlive(socket, this.#o.keepAliveMs, () =>
      this.#o.logger.warn?.(`no answer from the server in ${this.#o.keepAliveMs} ms; reconnecting`),
    );
    this.#events.opened(socket, reconnect);
  }

  #onClose(socket: WebSocketLike, info: SocketClosed): void {
    if (this.#dialing === socket) this.#dialing = undefined;
    if (this.#socket === socket) {
      this.#socket = undefined;
      clearInterval(this.#keepAliveTimer);
    }
    if (info.opened) this.#events.disconnected(info);
    if (this.#closed) return;
    const because = info.refusedBecause ? `: ${info.refusedBecause}` : '';
    // DESIGN 4: an unknown or revoked token is refused with 401; asking again would not change that.
    if (info.refusedWith === 401 || info.refusedWith === 403) return this.#fail(new DeviceAuthError(info.refusedWith, info.refusedBecause));
    // The request itself is wrong (e.g. a subprotocol the server does not take): the same request would fail again.
    if (info.refusedWith === 400) return this.#fail(new Error(`the server refused the connection request (HTTP 400)${because}`));
    const error = info.refusedWith !== undefined ? new Error(`the server answered HTTP ${info.refusedWith} instead of a WebSocket${because}`) : info.error;
    this.#retry(error);
  }

  #retry(error: Error | undefined): void {
    if (this.#closed) return;
    if (this.#o.reconnect === false) return this.#fail(error ?? new DeviceClosedError('the connection was lost and reconnect is off'));
    const attempt = ++this.#failedAttempts;
    const delayMs = reconnectDelay(attempt, this.#o.reconnect, this.#o.random);
    this.#o.logger.info?.(`reconnecting in ${delayMs} ms (attempt ${attempt})${error ? `: ${error.message}` : ''}`);
    this.#events.reconnecting(attempt, delayMs, error);
    this.#reconnectTimer = setTimeout(() => void this.dial(), delayMs);
  }

  #fail(error: Error): void {
    this.#closed = true;
    this.#events.failed(error);
  }
}
