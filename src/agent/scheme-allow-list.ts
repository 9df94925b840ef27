/**
 * DESIGN 4: the agent opens only URI schemes on its allow-list. The default
 * is the web and mail; everything else (`file:`, `javascript:`, `ms-msdt:`,
 * `search-ms:`, `smb:`, an app's own protocol handler, ...) can run or reach
 * things on the device, so its owner adds it knowingly with
 * `--allow-scheme`.
 */
export const DEFAULT_SCHEMES: readonly string[] = Object.freeze(['https', 'http', 'mailto']);

/** RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
const SCHEME = /^[a-z][a-z0-9+.-]*$/;

/**
 * The allow-list from `--allow-scheme` values (each may hold several,
 * comma-separated; a trailing `:` is allowed), added to the default ones.
 * Schemes are compared in lower case, as RFC 3986 says they are equal.
 *
 * @example
 * allowedSchemes(['ssh', 'vnc, tel:']) // Set { 'https', 'http', 'mailto', 'ssh', 'vnc', 'tel' }
 */
export function allowedSchemes(extra: readonly string[] = []): ReadonlySet<string> {
  const schemes = new Set(DEFAULT_SCHEMES);
  for (const value of extra) {
    for (const part of value.split(',')) {
      const scheme = part.trim().replace(/:$/, '').toLowerCase();
      if (scheme === '') continue;
      if (!SCHEME.test(scheme)) throw new RangeError(`--allow-scheme ${JSON.stringify(part.trim())} is not a URI scheme (letters, digits, + - . and a letter first)`);
      schemes.add(scheme);
    }
  }
  return schemes;
}

/** The scheme of an absolute URI, in lower case; undefined when it has none. */
export function schemeOf(uri: string): string | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri);
  return m ? m[1]!.toLowerCase() : undefined;
}

/**
 * Why the agent refuses to open `uri`, or undefined when its scheme is
 * allowed. The reason names the scheme and the flag that would allow it.
 *
 * @example
 * refusal('https://example.com', allowedSchemes()) // undefined
 * refusal('file:///etc/passwd', allowedSchemes())  // 'this device does not open file: URIs (...); start the agent with --allow-scheme file ...'
 */
export function refusal(uri: string, allowed: ReadonlySet<string>): string | undefined {
  const scheme = schemeOf(uri);
  if (scheme === undefined) return 'the LaunchUri command\'s uri has no scheme, so it is not an absolute URI';
  if (allowed.has(scheme)) return undefined;
  return `this device does not open ${scheme}: URIs (it opens ${[...allowed].join(', ')}); start the agent with --allow-scheme ${scheme} to allow them`;
}
