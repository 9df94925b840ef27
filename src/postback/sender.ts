import http, { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isAppiaError } from '../domain/errors.js';
import { checkPostbackUrl, pinnedLookup, type PostbackLookup } from './address-guard.js';
import type { PostbackAllowList } from './allow-list.js';

/** The user-agent of every postback, so receivers can tell Appia's requests from others. */
export const POSTBACK_USER_AGENT = 'Appia-Postback/1 (device command relay)';

export const POSTBACK_SEND_DEFAULTS = Object.freeze({ connectTimeoutMs: 5000, timeoutMs: 10_000, maxResponseBytes: 4096 });

/**
 * The result of one attempt. `retry: false` says another attempt cannot help
 * (the URL is no longer acceptable, or the receiver answered 410 Gone); every
 * other failure is retried (DESIGN 6; docs/decisions.md, Postbacks).
 */
export type SendOutcome =
  | { readonly delivered: true; readonly status: number }
  | {
      readonly delivered: false;
      readonly status?: number;
      readonly error: string;
      readonly retryAfterMs?: number;
      readonly retry: boolean;
    };

export interface SendPostbackOptions {
  readonly url: string;
  /** the JSON text to POST */
  readonly body: string;
  /** the signature headers (signPostback) */
  readonly headers: Readonly<Record<string, string>>;
  readonly allow: PostbackAllowList;
  /** from the start until the response is read (default 10 s) */
  readonly timeoutMs?: number;
  /** from the start until the TCP connection is up, DNS included (default 5 s) */
  readonly connectTimeoutMs?: number;
  /** at most this much of the response body is read (default 4 KiB) */
  readonly maxResponseBytes?: number;
  readonly lookup?: PostbackLookup;
  /** the clock a `Retry-After` date is read against */
  readonly now?: () => number;
}

/**
 * Makes one attempt to deliver a postback: a JSON POST over node:http(s) to
 * an address checked as it is connected to (pinnedLookup; a literal IP host
 * is checked by checkPostbackUrl), a fresh connection each time, redirects
 * never followed, at most `maxResponseBytes` of the answer read before the
 * socket is destroyed. 2xx is delivered. Never throws.
 *
 * @example
 * const headers = signPostback({ secrets, webhookId, timestamp: new Date(), body });
 * const outcome = await sendPostback({ url: entry.url, body, headers, allow });
 * if (!outcome.delivered) console.log(outcome.error); // e.g. "HTTP 503 (Service Unavailable)"
 */
export function sendPostback(options: SendPostbackOptions): Promise<SendOutcome> {
  const { body, allow } = options;
  const timeoutMs = options.timeoutMs ?? POSTBACK_SEND_DEFAULTS.timeoutMs;
  const connectTimeoutMs = options.connectTimeoutMs ?? POSTBACK_SEND_DEFAULTS.connectTimeoutMs;
  const maxBytes = options.maxResponseBytes ?? POSTBACK_SEND_DEFAULTS.maxResponseBytes;
  const now = options.now ?? Date.now;
  let url: URL;
  try {
    url = checkPostbackUrl(options.url, allow);
  } catch (err) {
    return Promise.resolve({ delivered: false, error: messageOf(err), retry: false });
  }
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<SendOutcome>((resolve) => {
    let settled = false;
    let answered: (() => void) | undefined;
    let request: http.ClientRequest | undefined;
    const finish = (outcome: SendOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      request?.destroy();
      resolve(outcome);
    };
    const connectTimer = setTimeout(() => finish(failed(`no connection to ${url.host} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    const totalTimer = setTimeout(() => (answered ? answered() : finish(failed(`no answer within ${timeoutMs} ms`))), timeoutMs);
    try {
      request = transport.request({
        method: 'POST',
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': POSTBACK_USER_AGENT,
        },
        // A fresh connection per attempt: every send resolves and checks the host again (DESIGN 6).
        agent: false,
        lookup: pinnedLookup(url, allow, options.lookup),
      });
    } catch (err) {
      // node refuses some header values synchronously; the caller gets an outcome, not a throw
      finish({ delivered: false, error: `the request could not be made: ${messageOf(err)}`, retry: false });
      return;
    }
    request.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    request.on('error', (err) => finish(failed(describeNetworkError(err))));
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        const location = printable(response.headers.location ?? '(none)', 512);
        finish(failed(`HTTP ${status}: redirects are not followed (Location: ${location})`, status));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      answered = () => finish(statusOutcome(status, response.headers, Buffer.concat(chunks).toString('utf8'), now()));
      response.on('data', (chunk: Buffer) => {
        if (size < maxBytes) chunks.push(chunk.subarray(0, maxBytes - size));
        size += chunk.length;
        // DESIGN 6: only a few KB of the answer are read; the socket then goes.
        if (size >= maxBytes) answered!();
      });
      response.on('end', answered);
      response.on('error', answered);
      if (maxBytes === 0) answered();
    });
    request.end(body);
  });
}

function failed(error: string, status?: number): SendOutcome {
  return status === undefined ? { delivered: false, error, retry: true } : { delivered: false, status, error, retry: true };
}

function statusOutcome(status: number, headers: IncomingHttpHeaders, text: string, now: number): SendOutcome {
  if (status >= 200 && status < 300) return { delivered: true, status };
  const excerpt = printable(text.trim(), 200);
  const error = `HTTP ${status} (${STATUS_CODES[status] ?? 'unknown status'})${excerpt ? `: ${excerpt}` : ''}`;
  // 410 Gone: the receiver says the endpoint is gone for good (docs/decisions.md, Postbacks).
  if (status === 410) return { delivered: false, status, error, retry: false };
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(headers['retry-after'], now) : undefined;
  return retryAfterMs === undefined ? { delivered: false, status, error, retry: true } : { delivered: false, status, error, retryAfterMs, retry: true };
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function describeNetworkError(err: unknown): string {
  if (isAppiaError(err)) return err.message; // the address guard refused, before any connection
  if (err instanceof AggregateError && err.errors.length > 0) return [...new Set(err.errors.map(describeNetworkError))].join('; ');
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = e.address ? ` (${e.address}${e.port ? `:${e.port}` : ''})` : '';
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused${where}`;
    case 'ECONNRESET':
      return 'the connection was reset before an answer';
    case 'ETIMEDOUT':
      return `the connection timed out${where}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `the host is unreachable${where}`;
    default:
      return `the request failed: ${printable(e.message || String(err), 300)}`;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Receiver-controlled text made safe for a log line and the deliveries log. */
function printable(text: string, max: number): string {
  const clean = text.replace(/[\p{Cc}\p{Cf}]+/gu, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
