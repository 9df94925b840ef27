import { AppiaError } from '../domain/errors.js';

/**
 * DESIGN 2: input property names are matched case-insensitively
 * (`postbackURI`, `PostBackUri` and `postBackUri` are one property).
 * Rewrites the top-level keys of a body to their canonical spelling; a name
 * given twice in different casings is an error rather than a silent pick.
 */
export function canonicalKeys(body: unknown, canonical: readonly string[]): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const byLower = new Map(canonical.map((k) => [k.toLowerCase(), k] as const));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const name = byLower.get(key.toLowerCase()) ?? key;
    if (Object.prototype.hasOwnProperty.call(out, name)) {
      throw new AppiaError('badRequest', `property ${name} is given more than once`);
    }
    out[name] = value;
  }
  return out;
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
