import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../config.js';
import type { IpAddress } from './address-ranges.js';

/**
 * The destinations the operator lets postbacks reach despite DESIGN 6's
 * public-https rule (`APPIA_POSTBACK_ALLOW`), parsed once at start.
 */
export interface PostbackAllowList {
  /** host names, as the URL parser spells them (lower case, punycode), without a trailing dot */
  readonly hosts: ReadonlySet<string>;
  /** CIDR ranges; a plain address in the setting is a /32 or /128 */
  readonly ranges: readonly (readonly [IpAddress, number])[];
}

/** The empty allow-list: only https to public addresses. */
export const NO_POSTBACK_ALLOW: PostbackAllowList = Object.freeze({ hosts: new Set<string>(), ranges: Object.freeze([]) });

/**
 * Parses `APPIA_POSTBACK_ALLOW`: host names, IP addresses and CIDR ranges,
 * comma-separated (or already split, as `Config.postbackAllow` is). A wrong
 * entry is a ConfigError naming it, so a typo stops the start instead of
 * silently allowing nothing.
 *
 * @example
 * const allow = parsePostbackAllow('localhost, 127.0.0.1/32, hooks.internal, fd00::/8');
 * isHostAllowed(allow, 'localhost');      // true
 * isAddressAllowed(allow, '127.0.0.1');   // true
 */
export function parsePostbackAllow(setting: string | readonly string[]): PostbackAllowList {
  const entries = typeof setting === 'string' ? setting.split(',') : setting;
  const hosts = new Set<string>();
  const ranges: (readonly [IpAddress, number])[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const bad = (what: string): never => {
      throw new ConfigError(`APPIA_POSTBACK_ALLOW: ${JSON.stringify(entry)} is not ${what}`);
    };
    if (entry.includes('/')) {
      // Four-part decimal only: ipaddr.js would read "10/8" as 0.0.0.10/8.
      if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(entry) && !ipaddr.IPv6.isValidCIDR(entry)) {
        bad('a CIDR range (like 10.0.0.0/8 or fd00::/8)');
      }
      ranges.push(Object.freeze(ipaddr.parseCIDR(entry)));
      continue;
    }
    const literal = entry.startsWith('[') && entry.endsWith(']') ? entry.slice(1, -1) : entry;
    if (isIP(literal) !== 0) {
      ranges.push(single(literal));
      continue;
    }
    if (!/^[^\s/?#@:[\]\\%]+$/u.test(entry)) bad('a host name, an IP address or a CIDR range (no scheme, port or path)');
    let hostname = '';
    try {
      hostname = new URL(`http://${entry}/`).hostname;
    } catch {
      bad('a valid host name');
    }
    // The URL parser turns "127.1" or "0x7f000001" into a dotted quad: such an entry is an address.
    if (isIP(hostname) !== 0) ranges.push(single(hostname));
    else hosts.add(withoutTrailingDot(hostname));
  }
  return Object.freeze({ hosts, ranges: Object.freeze(ranges) });
}

/** Whether a URL's host name (as `URL.hostname` gives it) is one the operator listed by name. */
export function isHostAllowed(allow: PostbackAllowList, hostname: string): boolean {
  return allow.hosts.has(withoutTrailingDot(hostname.toLowerCase()));
}

/** Whether an address lies in one of the allowed ranges (an IPv4-mapped IPv6 address counts as its IPv4 address). */
export function isAddressAllowed(allow: PostbackAllowList, address: string | IpAddress): boolean {
  const parsed = typeof address === 'string' ? ipaddr.process(address) : address;
  const plain = parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
  return allow.ranges.some(([network, bits]) => network.kind() === plain.kind() && plain.match(network, bits));
}

function single(literal: string): readonly [IpAddress, number] {
  const address = ipaddr.parse(literal);
  return Object.freeze([address, address.kind() === 'ipv4' ? 32 : 128] as const);
}

function withoutTrailingDot(hostname: string): string {
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}
