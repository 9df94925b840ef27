import type { IncomingMessage } from 'node:http';
import type { WebSocketLike } from './options.js';
import { errorMessageOf } from './wire-text.js';

/** How one connection attempt ended. */
export interface SocketClosed {
  /** the WebSocket opened before it closed */
  readonly opened: boolean;
  readonly code: number;
  readonly reason: string;
  /** the HTTP status when the server refused the upgrade */
  readonly refusedWith: number | undefined;
  /** the server's explanation of the refusal (Graph's error message) */
  readonly refusedBecause: string | undefined;
  readonly error: Error | undefined;
}

export interface SocketEvents {
  onOpen(): void;
  onMessage(data: unknown, isBinary: boolean): void;
  onError(err: Error): void;
  onClose(closed: SocketClosed): void;
}

/**
 * Follows one connection attempt: open, messages, and how it ended. A
 * refused upgrade (DESIGN 4: 401 for an unknown or revoked token) is read
 * for the server's short explanation, then the socket is dropped.
 */
export function watchSocket(socket: WebSocketLike, events: SocketEvents): void {
  let opened = false;
  let refusedWith: number | undefined;
  let refusedBecause: string | undefined;
  let lastError: Error | undefined;
  socket.on('unexpected-response', (_request: unknown, response: IncomingMessage) => {
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
    events.onOpen();
  });
  socket.on('message', (data: unknown, isBinary: boolean) => events.onMessage(data, isBinary));
  socket.on('error', (err: Error) => {
    lastError = err;
    events.onError(err);
  });
  socket.on('close', (code: number, reason: Buffer | string) => {
    events.onClose({ opened, code, reason: String(reason ?? ''), refusedWith, refusedBecause, error: lastError });
  });
}

/**
 * Pings the server every `intervalMs` and drops the socket when a ping got no
 * pong by the next one (the reconnect then takes over). 0 = off. Returns the
 * timer, for clearInterval.
 */
export function keepAlive(socket: WebSocketLike, intervalMs: number, onSilence: () => void): NodeJS.Timeout | undefined {
  if (intervalMs === 0) return undefined;
  let answered = true;
  socket.on('pong', () => (answered = true));
  const timer = setInterval(() => {
    if (!answered) {
      onSilence();
      socket.terminate();
      return;
    }
    answered = false;
    try {
      socket.ping();
    } catch {
      // closing already: the close event takes over
    }
  }, intervalMs);
  timer.unref();
  return timer;
}
