/**
 * `APPIA_NATS_URL` read into what the NATS client needs (DESIGN 7). nats.js
 * takes credentials as options, not inside a server URL, so they are taken
 * out here; `shown` is the URL without them, the only form that is ever
 * logged or put in an error.
 *
 * @example
 * parseNatsUrl('nats://appia:s3cret@10.0.0.5:4222')
 * // { servers: ['10.0.0.5:4222'], user: 'appia', pass: 's3cret', tls: false, shown: 'nats://10.0.0.5:4222' }
 */
export interface NatsTarget {
  /** host:port of each server, for nats.js `servers` */
  readonly servers: readonly string[];
  readonly user?: string;
  readonly pass?: string;
  /** a lone user part (`nats://TOKEN@host`) is a token, as in the NATS CLI */
  readonly token?: string;
  /** `tls://` asks for a TLS connection */
  readonly tls: boolean;
  /** the URL(s) without credentials */
  readonly shown: string;
}

const SCHEMES: Readonly<Record<string, boolean>> = { 'nats:': false, 'tls:': true };
const DEFAULT_PORT = '4222';

/** Throws one line (never echoing the input, which may hold a password) when the URL is not a NATS URL. */
export function parseNatsUrl(url: string): NatsTarget {
  // a comma-separated list names several servers of one cluster
  const parts = url.split(',').map((part) => part.trim());
  const servers: string[] = [];
  const shown: string[] = [];
  let tls = false;
  let user: string | undefined;
  let pass: string | undefined;
  for (const [index, part] of parts.entries()) {
    const parsed = parseOne(part, index, parts.length);
    servers.push(`${parsed.hostname}:${parsed.port || DEFAULT_PORT}`);
    shown.push(`${parsed.protocol}//${parsed.hostname}:${parsed.port || DEFAULT_PORT}`);
    tls ||= SCHEMES[parsed.protocol] === true;
    if (user === undefined && parsed.username !== '') {
      user = decodeURIComponent(parsed.username);
      pass = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
    }
  }
  const credentials =
    user === undefined ? {} : pass === undefined ? { token: user } : { user, pass };
  return { servers, tls, shown: shown.join(','), ...credentials };
}

function parseOne(part: string, index: number, count: number): URL {
  const which = count > 1 ? `server ${index + 1} of the NATS URL` : 'the NATS URL';
  let parsed: URL;
  try {
    parsed = new URL(part);
  } catch {
    throw new Error(`${which} is not a URL (expected nats://host:port)`);
  }
  if (!(parsed.protocol in SCHEMES)) {
    throw new Error(`${which} has scheme ${JSON.stringify(parsed.protocol.slice(0, 16))}; expected nats:// or tls://`);
  }
  if (parsed.hostname === '') throw new Error(`${which} names no host (expected nats://host:port)`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '') {
    throw new Error(`${which} has a path, query or fragment; expected nats://host:port`);
  }
  return parsed;
}
