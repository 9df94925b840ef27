import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { AppiaError } from '../domain/errors.js';
import { judgeAddress, parseAddress } from './address-ranges.js';
import { isAddressAllowed, isHostAllowed, type PostbackAllowList } from './allow-list.js';

/**
 * Resolves a host name to every address it has (node's `dns.lookup` with
 * `all: true`). A seam (STYLE): tests pass their own so that no test asks
 * real DNS for anything but loopback.
 */
export type PostbackLookup = (hostname: string) => Promise<readonly LookupAddress[]>;

export const systemLookup: PostbackLookup = (hostname) => dnsLookup(hostname, { all: true });

/** Where postbacks may go: the operator's allow-list, and how host names are resolved (the system's DNS unless a test says otherwise). */
export interface PostbackTargets {
  readonly allow: PostbackAllowList;
  readonly lookup?: PostbackLookup;
}

export const MAX_POSTBACK_URL_LENGTH = 2048;

const ALLOW_HINT = 'postbacks go only to public addresses, unless the host is in APPIA_POSTBACK_ALLOW';

/**
 * The create-time syntax check of a `postBackUri` (DESIGN 6): an absolute
 * https URL without credentials, at most 2048 characters, with no spaces or
 * control characters anywhere in the text as given. `http` only for a host
 * the operator allowed: by name, as a literal address in an allowed range,
 * or (decided once resolved) a name when the allow-list has ranges. A literal
 * IP host is judged here already. Throws a `badRequest` AppiaError naming
 * `postBackUri`.
 *
 * @example
 * const url = checkPostbackUrl('https://hooks.example.com/appia', NO_POSTBACK_ALLOW);
 * checkPostbackUrl('https://127.1/', NO_POSTBACK_ALLOW); // throws: ... 127.0.0.1, a loopback address ...
 */
export function checkPostbackUrl(text: string, allow: PostbackAllowList): URL {
  const refuse = (why: string): never => {
    throw new AppiaError('badRequest', `postBackUri ${why}`);
  };
  if (typeof text !== 'string' || text === '') refuse('must be an absolute https URL');
  if (text.length > MAX_POSTBACK_URL_LENGTH) refuse(`must be at most ${MAX_POSTBACK_URL_LENGTH} characters (got ${text.length})`);
  // Checked on the raw text: `new URL` would quietly strip tabs and line breaks.
  const odd = /[\p{Cc}\p{Cf}\p{Z}\\]/u.exec(text);
  if (odd) refuse(`must not contain ${describeChar(odd[0])} (at character ${odd.index + 1})`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('must be an absolute https URL');
  }
  if (url.href.length > MAX_POSTBACK_URL_LENGTH) refuse(`must be at most ${MAX_POSTBACK_URL_LENGTH} characters once normalised`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse(`must be an https URL (got ${url.protocol})`);
  if (url.username !== '' || url.password !== '') refuse('must not carry credentials (user:password@)');
  if (url.hostname === '') refuse('must name a host');
  const literal = literalAddress(url);
  if (url.protocol === 'http:') {
    const allowed = isHostAllowed(allow, url.hostname) || (literal !== undefined ? isAddressAllowed(allow, literal) : allow.ranges.length > 0);
    if (!allowed) refuse(`must use https; http is allowed only for hosts in APPIA_POSTBACK_ALLOW (got ${url.host})`);
  }
  if (literal !== undefined) vetAddresses(url, [literal], allow);
  return url;
}

/**
 * Resolves the URL's host and checks every address (DESIGN 6: at create time
 * and again at every send). Refused unless each address is public, or the
 * host is allowed by name, or the address lies in an allowed range; for
 * `http` every address must be allowed. Returns the checked addresses.
 * Throws `badRequest` naming `postBackUri`, or `unavailable` when DNS is
 * failing for the moment.
 *
 * @example
 * await resolvePostbackHost(new URL('https://hooks.example.com/'), NO_POSTBACK_ALLOW);
 * // ['93.184.215.14', ...]
 */
export async function resolvePostbackHost(url: URL, allow: PostbackAllowList, lookup: PostbackLookup = systemLookup): Promise<string[]> {
  const literal = literalAddress(url);
  if (literal !== undefined) return vetAddresses(url, [literal], allow);
  return vetAddresses(url, await resolve(url.hostname, lookup), allow);
}

/**
 * A `lookup` for node:http(s) `request({ lookup })` that resolves, checks
 * each address as resolvePostbackHost does, and hands the socket only the
 * addresses it checked: a DNS answer that changes between a check and the
 * connect cannot slip through, because the connect uses this answer.
 * Node does not call `lookup` for a literal IP host; check those with
 * checkPostbackUrl.
 *
 * @example
 * http.request({ hostname: url.hostname, lookup: pinnedLookup(url, allow), ... });
 */
export function pinnedLookup(url: URL, allow: PostbackAllowList, lookup: PostbackLookup = systemLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, lookup)
      .then((found) => {
        vetAddresses(url, found, allow);
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const usable = family === 4 || family === 6 ? found.filter((a) => a.family === family) : found;
        if (usable.length === 0) throw new AppiaError('badRequest', `postBackUri's host ${hostname} has no IPv${family} address`);
        if (options.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, usable[0]!.address, usable[0]!.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, ''));
  };
}

async function resolve(hostname: string, lookup: PostbackLookup): Promise<readonly LookupAddress[]> {
  let found: readonly LookupAddress[];
  try {
    found = await lookup(hostname);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAI_AGAIN') throw new AppiaError('unavailable', `postBackUri's host ${hostname} could not be resolved for now (${code})`, { cause: err, retryAfter: 5 });
    throw new AppiaError('badRequest', `postBackUri's host ${hostname} does not resolve${code ? ` (${code})` : ''}`, { cause: err });
  }
  if (found.length === 0) throw new AppiaError('badRequest', `postBackUri's host ${hostname} has no address`);
  return found;
}

/** Throws unless every address may receive this URL's postbacks; returns the addresses. */
function vetAddresses(url: URL, found: readonly (LookupAddress | string)[], allow: PostbackAllowList): string[] {
  const addresses = found.map((a) => (typeof a === 'string' ? a : a.address));
  if (isHostAllowed(allow, url.hostname)) return addresses;
  const https = url.protocol === 'https:';
  for (const address of addresses) {
    if (isAddressAllowed(allow, address)) continue;
    const subject = literalAddress(url) !== undefined ? `host ${address} is` : `host ${url.hostname} resolves to ${address},`;
    if (!https) throw new AppiaError('badRequest', `postBackUri's ${subject} not in APPIA_POSTBACK_ALLOW, which http requires`);
    const verdict = judgeAddress(address);
    if (!verdict.public) throw new AppiaError('badRequest', `postBackUri's ${subject} ${verdict.reason}; ${ALLOW_HINT}`);
  }
  return addresses;
}

/** The host as an address when the URL names one (the URL parser has already normalised numeric IPv4 forms). */
function literalAddress(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return parseAddress(host) === undefined ? undefined : host;
}

function describeChar(char: string): string {
  if (char === ' ') return 'a space';
  if (char === '\r' || char === '\n') return 'a line break';
  if (char === '\t') return 'a tab';
  if (char === '\\') return 'a backslash';
  return `the character U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
