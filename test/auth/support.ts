import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { AppiaError, type ErrorCode } from '../../src/domain/errors.js';

/** A fixed instant for tests that control the clock. */
export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
export const seconds = (ms: number) => Math.floor(ms / 1000);

export const ISSUER = 'https://issuer.test/tenant/v2.0';
export const AUDIENCE = 'api://appia';

/** An ES256 key of a stand-in issuer, and a way to sign any claims with it. */
export interface TestSigner {
  readonly kid: string;
  readonly publicJwk: JWK;
  jwks(): { keys: JWK[] };
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function testSigner(kid: string, now = () => T0): Promise<TestSigner> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const keys = { keys: [publicJwk] };
  return {
    kid,
    publicJwk,
    jwks: () => keys,
    sign(claims, header = {}) {
      const iat = seconds(now());
      return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'user-sub', scp: 'Device.Read Device.Command', iat, exp: iat + 3600, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid, ...header })
        .sign(privateKey);
    },
  };
}

export const b64url = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/**
 * Asserts `promise` rejects with an AppiaError of `code` whose message
 * matches `message` and never contains the token (DESIGN 5: never log tokens).
 */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp, token?: string) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AppiaError, `expected an AppiaError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    if (token) {
      for (const part of token.split('.').filter((p) => p.length > 8)) assert.ok(!err.message.includes(part), 'the message leaks the token');
    }
    return true;
  });
}
