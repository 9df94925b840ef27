import type { JWTPayload } from 'jose';
import { AppiaError } from '../domain/errors.js';

/** Who is calling, after the bearer token is verified (DESIGN 5). */
export interface Principal {
  /** `oid`, else `sub` (see `VerifierOptions.userClaim`) */
  readonly userId: string;
  /** the delegated scopes, from `scp` (or `scope`) */
  readonly scopes: ReadonlySet<string>;
  /** the verified claims, for logging and extensions; never the token itself */
  readonly claims: Readonly<JWTPayload>;
}

/**
 * The caller a verified token names (DESIGN 5): the user from `oid` or
 * `sub`, the delegated scopes; an app-only token is refused 403.
 */
export function principalOf(claims: JWTPayload, userClaim: 'oid' | 'sub' | undefined, userIdPrefix: string): Principal {
  const userId = userClaim === 'sub' ? claims.sub : (claims.oid ?? claims.sub);
  if (typeof userId !== 'string' || userId === '') {
    throw new AppiaError('invalidToken', `The access token names no user (${userClaim === 'sub' ? 'sub' : 'oid or sub'} claim).`);
  }
  // Entra ID writes delegated scopes in `scp`; RFC 9068 issuers (Keycloak, Auth0, oidc-provider) in `scope`.
  const scp = claims.scp !== undefined ? claims.scp : claims['scope'];
  let scopes: string[];
  if (typeof scp === 'string') scopes = scp.split(/\s+/).filter(Boolean);
  else if (Array.isArray(scp) && scp.every((s): s is string => typeof s === 'string')) scopes = scp.filter(Boolean);
  else if (scp === undefined) scopes = [];
  else throw new AppiaError('invalidToken', 'The access token has a malformed scp claim.');
  if (scp === undefined || isAppOnly(claims)) {
    // DESIGN 5: delegated only, as the seed's permission table says.
    throw new AppiaError(
      'forbidden',
      'Application: Not supported. This API accepts only delegated (user) tokens; this is an app-only token.',
    );
  }
  if (scopes.length === 0) throw new AppiaError('forbidden', 'Insufficient privileges: the token grants no scopes.');
  return Object.freeze({ userId: userIdPrefix + userId, scopes: new Set(scopes), claims: Object.freeze({ ...claims }) });
}

/**
 * How issuers mark a token that no user signed in for (a client-credentials
 * grant): Entra ID's `idtyp: app`, Auth0's `gty: client-credentials`, and
 * RFC 9068's `sub` equal to `client_id` (oidc-provider and others).
 */
function isAppOnly(claims: JWTPayload): boolean {
  if (claims['idtyp'] === 'app' || claims['gty'] === 'client-credentials') return true;
  const clientId = claims['client_id'];
  return typeof clientId === 'string' && claims.sub === clientId;
}
