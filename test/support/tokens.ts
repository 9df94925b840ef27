import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

/**
 * Signs a token with the test server's real embedded-issuer key, with claims
 * the issuer itself would never produce (expired, wrong audience, ...).
 */
export async function signWithIssuerKey(
  dataDir: string,
  claims: JWTPayload,
  options: { issuer?: string; audience?: string; expiresAt?: number; notBefore?: number } = {},
): Promise<string> {
  const jwk = JSON.parse(await readFile(join(dataDir, 'issuer', 'signing-key.jwk'), 'utf8')) as JWK;
  const identity = JSON.parse(await readFile(join(dataDir, 'issuer', 'issuer.json'), 'utf8')) as { issuer: string; audience: string };
  const key = await importJWK(jwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid!, typ: 'JWT' })
    .setIssuer(options.issuer ?? identity.issuer)
    .setAudience(options.audience ?? identity.audience)
    .setIssuedAt(now)
    .setNotBefore(options.notBefore ?? now)
    .setExpirationTime(options.expiresAt ?? now + 3600)
    .sign(key);
}
