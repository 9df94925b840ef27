import { setTimeout as sleep } from 'node:timers/promises';

/** RFC 8628 3.5: after `slow_down` a device waits 5 s longer, for good */
const SLOW_DOWN_STEP_S = 5;

export interface PairingOptions {
  /** the Appia server, e.g. http://127.0.0.1:8080 (as for `connect`) */
  readonly url: string;
  /** what the device asks to be registered as */
  readonly device: { readonly name: string; readonly kind?: string; readonly platform?: string; readonly model?: string; readonly manufacturer?: string };
  /** told the code once the server gave it (show it to the person who approves it) */
  readonly onCode: (code: { readonly userCode: string; readonly verificationUri: string; readonly verificationUriComplete?: string; readonly expiresIn: number }) => void;
  /** told each time the server asks the device to poll more slowly */
  readonly onSlowDown?: (intervalSeconds: number) => void;
  /** told when a poll could not reach the server (it polls again until the code expires), with the reason */
  readonly onUnreachable?: (reason: string) => void;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
}

/** The pairing could not finish: expired, refused, or the server said something else. The message is for people. */
export class PairingError extends Error {
  override name = 'PairingError';
}

/** The server could not be reached (connection refused, reset, DNS). */
class UnreachableError extends PairingError {}

/**
 * DESIGN 10 (RFC 8628 as a device does it): asks the server for a code,
 * shows it, and polls for the device token no faster than told, until the
 * owner approves the code (resolves with the token), refuses it or lets it
 * expire (rejects PairingError). Aborting the signal stops it.
 *
 * @example
 * import { connect, pairDevice } from 'appia/device';
 *
 * const { deviceToken } = await pairDevice({
 *   url: 'http://127.0.0.1:8080',
 *   device: { name: 'Hall kiosk', kind: 'Desktop', platform: 'Linux' },
 *   onCode: ({ userCode, verificationUri }) => console.log(`approve ${userCode} at ${verificationUri}`),
 * });
 * // keep deviceToken somewhere only this device can read, then:
 * const device = await connect({ url: 'http://127.0.0.1:8080', token: deviceToken });
 */
export async function pairDevice(options: PairingOptions): Promise<{ deviceId: string; deviceToken: string }> {
  const fetchImpl = options.fetch ?? fetch;
  const post = async (path: string, body: unknown) => {
    let response: Response;
    try {
      response = await fetchImpl(`${options.url.replace(/\/+$/, '')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new UnreachableError(`cannot reach the Appia server at ${options.url} (${cause})`);
    }
    let json: Record<string, unknown> = {};
    try {
      json = (await response.json()) as Record<string, unknown>;
    } catch {
      // said below by status
    }
    return { status: response.status, json };
  };

  const started = await post('/devices/pair', options.device);
  if (started.status !== 200) throw new PairingError(`the server refused to start pairing (${started.status}): ${graphMessage(started.json)}`);
  const { pairingId, userCode, verificationUri, verificationUriComplete, expiresIn, interval } = started.json as Record<string, any>;
  if (typeof pairingId !== 'string' || typeof userCode !== 'string') throw new PairingError('the server answered the pairing request without a code');
  options.onCode({ userCode, verificationUri: String(verificationUri), ...(typeof verificationUriComplete === 'string' ? { verificationUriComplete } : {}), expiresIn: Number(expiresIn) });

  let wait = Math.max(1, Number(interval) || 5);
  // a server restarting or a network fault only delays the pairing: poll again until the code expires
  const expiresAt = Date.now() + Math.max(0, Number(expiresIn) || 0) * 1000;
  for (;;) {
    await sleep(wait * 1000, undefined, options.signal ? { signal: options.signal } : {});
    let poll: Awaited<ReturnType<typeof post>>;
    try {
      poll = await post('/devices/pair/token', { pairingId });
    } catch (err) {
      if (!(err instanceof UnreachableError) || Date.now() + wait * 1000 >= expiresAt) throw err;
      options.onUnreachable?.(err.message);
      continue;
    }
    if (poll.status === 200 && typeof poll.json['deviceToken'] === 'string') {
      return { deviceId: String(poll.json['deviceId']), deviceToken: poll.json['deviceToken'] };
    }
    switch (poll.json['error']) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        wait = Math.max(wait + SLOW_DOWN_STEP_S, Number(poll.json['interval']) || 0);
        options.onSlowDown?.(wait);
        continue;
      case 'expired_token':
        throw new PairingError(`the code ${userCode} expired before it was approved; pair again for a new one`);
      case 'access_denied':
        throw new PairingError(`the pairing was refused (the code ${userCode} was denied, or the device was removed)`);
      default:
        // a busy server: poll again at the interval (its 429s are per second, shorter than any interval)
        if (poll.status === 429 || poll.status >= 500) continue;
        throw new PairingError(`the server refused the pairing (${poll.status}): ${String(poll.json['error_description'] ?? graphMessage(poll.json))}`);
    }
  }
}

function graphMessage(json: Record<string, unknown>): string {
  const error = json['error'] as { message?: unknown } | undefined;
  return typeof error?.message === 'string' ? error.message : JSON.stringify(json).slice(0, 200);
}
