import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** DESIGN 4: the one WebSocket endpoint. */
export const CONNECT_PATH = '/devices/connect';
/** the subprotocol a browser offers, and the server selects, beside `token.<deviceToken>` */
export const SUBPROTOCOL = 'appia.v1';
const TOKEN_PROTOCOL_PREFIX = 'token.';
/** far above the ~52 characters of a real device token; longer is not ours */
const MAX_TOKEN_LENGTH = 512;

/** Whether an upgrade request is for the device endpoint (path only, case-insensitive like DESIGN 2's routes). */
export function isConnectPath(request: IncomingMessage): boolean {
  const url = request.url ?? '';
  const query = url.indexOf('?');
  return (query < 0 ? url : url.slice(0, query)).toLowerCase() === CONNECT_PATH;
}

export type TokenLookup =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly status: 400 | 401; readonly message: string };

/**
 * DESIGN 4: the device token comes from `Authorization: Bearer <token>` or,
 * for browsers (which cannot set headers on a WebSocket), from the offered
 * subprotocols `appia.v1, token.<token>`. The header wins when both are sent.
 */
export function deviceTokenOf(request: IncomingMessage): TokenLookup {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) return { ok: false, status: 401, message: 'the Authorization header must be "Bearer <deviceToken>"' };
    return checked(match[1]!);
  }
  const offered = offeredProtocols(request);
  const tokenProtocol = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  if (tokenProtocol === undefined) {
    return { ok: false, status: 401, message: 'a device token is required: Authorization: Bearer <deviceToken>' };
  }
  if (!offered.includes(SUBPROTOCOL)) {
    return { ok: false, status: 400, message: `offer the ${SUBPROTOCOL} subprotocol beside token.<deviceToken>` };
  }
  return checked(tokenProtocol.slice(TOKEN_PROTOCOL_PREFIX.length));
}

/** ws's handleProtocols: select `appia.v1` when offered; never echo the token. */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
}

/**
 * Refuses an upgrade with a proper HTTP answer, then closes the socket
 * (after the answer is flushed). The body has Graph's error shape.
 */
export function refuseUpgrade(socket: Duplex, status: 400 | 401 | 404 | 429 | 503, message: string, retryAfter = 5): void {
  if (socket.destroyed) return;
  const code = { 400: 'BadRequest', 401: 'InvalidAuthenticationToken', 404: 'itemNotFound', 429: 'TooManyRequests', 503: 'serviceNotAvailable' }[status];
  const body = JSON.stringify({ error: { code, message } });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(status === 401 ? ['WWW-Authenticate: Bearer realm="appia-device"'] : []),
    ...(status === 503 || status === 429 ? [`Retry-After: ${retryAfter}`] : []),
  ];
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

function offeredProtocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

function checked(token: string): TokenLookup {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return { ok: false, status: 401, message: 'the device token is unknown or revoked' };
  return { ok: true, token };
}
