import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** One parsed address, as ipaddr.js gives it. */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** Whether a postback may go to an address, and if not, why (a noun phrase for an error message). */
export type AddressVerdict = { readonly public: true } | { readonly public: false; readonly reason: string };

const PUBLIC: AddressVerdict = Object.freeze({ public: true });

// The words an error uses for each ipaddr.js range that is not `unicast`.
const RANGE_WORDS: Readonly<Record<string, string>> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (this includes cloud metadata at 169.254.169.254)',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address (100.64.0.0/10)',
  private: 'a private address',
  reserved: 'a reserved or documentation address',
  benchmarking: 'a benchmarking address',
  as112: 'an AS112 sink address',
  amt: 'an AMT relay anycast address',
  uniqueLocal: 'a unique-local address (fc00::/7)',
  deprecatedSiteLocal: 'a site-local address (fec0::/10)',
  discard: 'a discard-only address (100::/64)',
  rfc6052: 'a local-use NAT64 address (64:ff9b:1::/48)',
  as112v6: 'an AS112 sink address',
  deprecatedOrchid: 'an ORCHID address',
  orchid2: 'an ORCHIDv2 address',
  droneRemoteIdProtocolEntityTags: 'a drone remote ID address',
  segmentRouting: 'a segment-routing address',
};

// Only 2000::/3 is handed out as global unicast; the rest of "unicast" in
// ipaddr.js's sense is unallocated and has no business receiving postbacks.
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');
const NAT64_LOCAL_USE = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48');

/**
 * Parses an address the way a socket would connect to it, or undefined when
 * the text is not a canonical IP literal. `net.isIP` first, so that short and
 * numeric IPv4 forms (`127.1`, `0x7f000001`) are never taken as addresses
 * here: the WHATWG URL parser turns those into dotted quads before us.
 */
export function parseAddress(text: string): IpAddress | undefined {
  return isIP(text) === 0 ? undefined : ipaddr.parse(text);
}

/**
 * Judges one address for a postback: public unicast passes; loopback,
 * private, link-local, CGNAT, multicast, unspecified, broadcast, reserved,
 * benchmarking, unique-local and the like are refused. IPv6 forms that carry
 * an IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo) are
 * judged by the IPv4 address inside (DESIGN 6: "mapped and numeric forms").
 *
 * @example
 * judgeAddress('::ffff:10.0.0.1');
 * // { public: false, reason: 'the IPv4-mapped form of 10.0.0.1, a private address' }
 */
export function judgeAddress(address: string | IpAddress): AddressVerdict {
  const parsed = typeof address === 'string' ? parseAddress(address) : address;
  if (parsed === undefined) return { public: false, reason: 'not an IP address' };
  return parsed.kind() === 'ipv4' ? judgeIPv4(parsed as ipaddr.IPv4) : judgeIPv6(parsed as ipaddr.IPv6);
}

function judgeIPv4(address: ipaddr.IPv4): AddressVerdict {
  const range = address.range();
  return range === 'unicast' ? PUBLIC : { public: false, reason: RANGE_WORDS[range] ?? `a ${range} address` };
}

function judgeIPv6(address: ipaddr.IPv6): AddressVerdict {
  const embedded = embeddedIPv4(address);
  if (embedded !== undefined) {
    for (const inner of embedded.inner) {
      const verdict = judgeIPv4(inner);
      if (!verdict.public) return { public: false, reason: `the ${embedded.form} form of ${inner.toString()}, ${verdict.reason}` };
    }
    return PUBLIC;
  }
  const range = address.range();
  if (range !== 'unicast') return { public: false, reason: RANGE_WORDS[range] ?? `a ${range} address` };
  if (!address.match(GLOBAL_UNICAST)) return { public: false, reason: 'an address outside global unicast (2000::/3)' };
  return PUBLIC;
}

/** The IPv4 addresses an IPv6 address stands for, when it is one of the embedding forms. */
function embeddedIPv4(address: ipaddr.IPv6): { form: string; inner: ipaddr.IPv4[] } | undefined {
  const bytes = address.toByteArray();
  const at = (offset: number, flip = 0): ipaddr.IPv4 => new ipaddr.IPv4(bytes.slice(offset, offset + 4).map((b) => b ^ flip));
  switch (address.range()) {
    case 'ipv4Mapped':
      return { form: 'IPv4-mapped', inner: [at(12)] };
    case 'rfc6145':
      return { form: 'IPv4-translated', inner: [at(12)] };
    case 'rfc6052':
      // 64:ff9b::/96 carries the address in its last 32 bits; the /48 local-use
      // prefix is operator-defined, so it is refused as a range instead.
      return address.match(NAT64_LOCAL_USE) ? undefined : { form: 'NAT64', inner: [at(12)] };
    case '6to4':
      return { form: '6to4', inner: [at(2)] };
    case 'teredo':
      // RFC 4380: the server's IPv4 in bits 32-63, the client's (inverted) in the last 32.
      return { form: 'Teredo', inner: [at(4), at(12, 0xff)] };
    case 'unicast':
      return address.match(IPV4_COMPATIBLE) ? { form: 'IPv4-compatible', inner: [at(12)] } : undefined;
    default:
      return undefined;
  }
}
