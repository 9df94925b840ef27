import { AppiaError } from '../domain/errors.js';

/**
 * The part of `fetch` that auth/ uses; tests pass their own (STYLE: seams for
 * fetch), production passes nothing and gets the global one.
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** An issuer's documents are small; anything bigger is not one of them. */
const MAX_DOCUMENT_BYTES = 512 * 1024;

/**
 * Refuses a URL that key material must not travel over: anything but https,
 * except plain http to a loopback host (local development and tests).
 */
export function assertTrustworthyUrl(url: URL, what: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new TypeError(`${what} must be an https URL (http is allowed only on loopback), got ${url.protocol}//${url.host}`);
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * GETs a JSON object. Redirects are not followed (an issuer's metadata and
 * keys are fetched from exactly the configured place). Any failure is an
 * `unavailable` AppiaError naming the URL and what went wrong.
 */
export async function fetchJsonObject(
  url: URL,
  options: { fetch?: FetchLike | undefined; timeoutMs: number; what: string },
): Promise<Record<string, unknown>> {
  const fetchImpl: FetchLike = options.fetch ?? ((u, init) => fetch(u, init));
  const fail = (reason: string, cause?: unknown): never => {
    throw new AppiaError('unavailable', `could not fetch the ${options.what} from ${url.href}: ${reason}`, {
      cause,
      retryAfter: 5,
    });
  };
  let text = '';
  try {
    const response = await fetchImpl(url.href, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      fail(`HTTP ${response.status}`);
    }
    text = await response.text();
  } catch (err) {
    if (err instanceof AppiaError) throw err;
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    fail(timedOut ? `no answer within ${options.timeoutMs} ms` : 'the request failed', err);
  }
  if (text.length > MAX_DOCUMENT_BYTES) fail(`the answer is over ${MAX_DOCUMENT_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail('the answer is not JSON', err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('the answer is not a JSON object');
  return parsed as Record<string, unknown>;
}
