import { assertTrustworthyUrl, fetchJsonObject, type FetchLike } from './fetch-json.js';

/** What Appia needs from an external issuer's OpenID Connect discovery document. */
export interface DiscoveredIssuer {
  /** the `iss` its tokens carry: exactly the configured issuer */
  readonly issuer: string;
  /** where its signing keys are published */
  readonly jwksUri: URL;
  /** `id_token_signing_alg_values_supported`, when the document lists it */
  readonly signingAlgorithms?: readonly string[];
}

/**
 * Reads `<issuer>/.well-known/openid-configuration` (DESIGN 5: external
 * issuer) and returns where the issuer's keys are. The document's `issuer`
 * must equal the configured one exactly (OpenID Connect Discovery 1.0, 4.3),
 * so a typo or a multi-tenant "common" endpoint fails at startup, not on
 * every request.
 *
 * @example
 * const found = await discoverIssuer('https://login.example.com/tenant/v2.0');
 * const verifier = createVerifier({
 *   issuer: found.issuer,
 *   audience: 'api://appia',
 *   keys: { kind: 'remote', jwksUrl: found.jwksUri },
 * });
 */
export async function discoverIssuer(
  issuer: string,
  options: { fetch?: FetchLike; timeoutMs?: number } = {},
): Promise<DiscoveredIssuer> {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new TypeError(`the issuer must be a URL to discover its keys, got "${issuer}"`);
  }
  assertTrustworthyUrl(issuerUrl, 'the issuer');
  // Issuers with a trailing slash (Auth0 and others) still serve discovery
  // beside it, not below an empty segment.
  const documentUrl = new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  const document = await fetchJsonObject(documentUrl, {
    fetch: options.fetch,
    timeoutMs: options.timeoutMs ?? 5000,
    what: 'issuer discovery document',
  });

  if (document.issuer !== issuer) {
    throw new Error(
      `the discovery document at ${documentUrl.href} names issuer ${JSON.stringify(document.issuer)}, not "${issuer}"`,
    );
  }
  if (typeof document.jwks_uri !== 'string') {
    throw new Error(`the discovery document at ${documentUrl.href} has no jwks_uri`);
  }
  let jwksUri: URL;
  try {
    jwksUri = new URL(document.jwks_uri);
  } catch {
    throw new Error(`the discovery document at ${documentUrl.href} has an invalid jwks_uri`);
  }
  assertTrustworthyUrl(jwksUri, "the issuer's jwks_uri");

  const algs = document.id_token_signing_alg_values_supported;
  const signingAlgorithms =
    Array.isArray(algs) && algs.every((a): a is string => typeof a === 'string') ? Object.freeze([...algs]) : undefined;
  return Object.freeze({ issuer, jwksUri, ...(signingAlgorithms ? { signingAlgorithms } : {}) });
}
