import { AppiaError } from '../domain/errors.js';
import { parseStrictJson } from '../domain/strict-json.js';

/**
 * DESIGN 2: input property names are matched case-insensitively
 * (`postbackURI`, `PostBackUri` and `postBackUri` are one property).
 * Rewrites the top-level keys of a body to their canonical spelling; a name
 * given twice in different casings is an error naming both, rather than a
 * silent pick.
 */
export function canonicalKeys(body: unknown, canonical: readonly string[]): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const byLower = new Map(canonical.map((k) => [k.toLowerCase(), k] as const));
  const out: Record<string, unknown> = {};
  const given = new Map<string, string>();
  for (const [key, value] of Object.entries(body)) {
    const name = byLower.get(key.toLowerCase()) ?? key;
    const earlier = given.get(name);
    if (earlier !== undefined) {
      throw new AppiaError('badRequest', `property ${name} is given more than once (as ${JSON.stringify(earlier)} and ${JSON.stringify(key)})`);
    }
    given.set(name, key);
    out[name] = value;
  }
  return out;
}

/**
 * DESIGN 2: on input, a `payload` that is a string holding a JSON object is
 * read as that object (Graph's own example writes `"payload": "payload-JSON"`),
 * under the same rules as the body (exact numbers, nesting); any other
 * string is 400.
 */
export function payloadFromString(body: unknown, maxJsonDepth: number): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const payload = (body as Record<string, unknown>)['payload'];
  if (typeof payload !== 'string') return body;
  const notAnObject = () => new AppiaError('badRequest', 'payload must be a JSON object, or a string that holds one');
  let parsed: unknown;
  try {
    // the payload sits one level inside the body
    parsed = parseStrictJson(payload, { maxDepth: maxJsonDepth > 1 ? maxJsonDepth - 1 : maxJsonDepth, root: 'payload' });
  } catch (err) {
    // a plain string that is not JSON at all is simply not a payload; a JSON text with a fault names it
    if (/^\s*[[{]/.test(payload)) throw err;
    throw notAnObject();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw notAnObject();
  return { ...(body as Record<string, unknown>), payload: parsed };
}

/**
 * C0 and C1 controls, DEL, and the invisible characters that reorder or break
 * lines (bidirectional overrides, U+2028/2029): what a terminal or a shell
 * would act on rather than show (DESIGN 4: the server refuses them in a
 * LaunchUri's `uri`).
 */
export function hasControlCharacters(text: string): boolean {
  return /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(text);
}

/** An absolute URI with a scheme (DESIGN 2: LaunchUri's `uri`). */
export function isAbsoluteUri(text: string): boolean {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}
