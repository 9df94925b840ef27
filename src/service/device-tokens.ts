import { createHash, randomBytes } from 'node:crypto';

/**
 * DESIGN 4: a device token is opaque and high-entropy (256 bits) and is
 * stored only as its SHA-256 hash. A fast hash is right here: the token is
 * random, so there is nothing to brute-force that a slow hash would protect.
 */
export function newDeviceToken(): string {
  return 'appia_dt_' + randomBytes(32).toString('base64url');
}

export function hashDeviceToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
