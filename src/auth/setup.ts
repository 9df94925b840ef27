import type { JSONWebKeySet } from 'jose';
import { discoverIssuer } from './discovery.js';
import { openEmbeddedIssuer, type EmbeddedIssuer, type MintOptions } from './embedded-issuer.js';
import type { FetchLike } from './fetch-json.js';
import { verifierForIssuers } from './issuers.js';
import { createVerifier, type Verifier } from './verifier.js';

/** The auth settings (config.ts). */
export interface AuthSettings {
  readonly dataDir: string;
  /** empty: the embedded issuer */
  readonly issuers: readonly string[];
  /** one for every issuer, or one per issuer in order */
  readonly audiences: readonly string[];
  readonly userClaim: 'oid' | 'sub';
}

export interface Auth {
  readonly verifier: Verifier;
  /** the embedded issuer, when it is the one in use */
  readonly embedded?: EmbeddedIssuer;
  /** mints user tokens from the embedded issuer */
  readonly mint?: (options: MintOptions) => Promise<string>;
}

/**
 * DESIGN 5: the embedded issuer, or the external issuers the settings list,
 * each found through its discovery document (all before the server starts,
 * so a wrong URL stops the start naming it).
 *
 * The first issuer listed is the primary one: its users' ids are the claim
 * itself. Users of every other issuer get `<issuer>|<claim>`, so that two
 * issuers can never name the same Appia user (an administrator of one
 * issuer must not reach another issuer's users' devices by choosing a
 * `sub`), and listing a second issuer later leaves the first one's users
 * where they are.
 *
 * @example
 * const auth = await openAuth({ dataDir: './appia-data', issuers: [], audiences: [], userClaim: 'oid' });
 * const principal = await auth.verifier.verify(request.headers.authorization);
 */
export async function openAuth(settings: AuthSettings, options: { fetch?: FetchLike } = {}): Promise<Auth> {
  if (settings.issuers.length === 0) {
    const issuer = await openEmbeddedIssuer({ dataDir: settings.dataDir });
    const verifier = createVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      keys: { kind: 'local', jwks: () => issuer.jwks() as JSONWebKeySet },
      userClaim: settings.userClaim,
    });
    return { verifier, embedded: issuer, mint: (mint) => issuer.mint(mint) };
  }
  const discovered = await Promise.all(
    settings.issuers.map((issuer) => discoverIssuer(issuer, options.fetch ? { fetch: options.fetch } : {})),
  );
  const byIssuer = new Map<string, Verifier>();
  discovered.forEach((found, i) => {
    byIssuer.set(
      found.issuer,
      createVerifier({
        issuer: found.issuer,
        audience: settings.audiences.length === 1 ? settings.audiences[0]! : settings.audiences[i]!,
        keys: { kind: 'remote', jwksUrl: found.jwksUri },
        userClaim: settings.userClaim,
        ...(i === 0 ? {} : { userIdPrefix: `${found.issuer}|` }),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    );
  });
  return { verifier: verifierForIssuers(byIssuer) };
}
