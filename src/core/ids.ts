import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { commandIdSource } from '../domain/ids.js';

/**
 * Every id and secret the core makes, behind one seam (STYLE: seams for
 * randomness), so tests can make them predictable and production draws them
 * from the CSPRNG.
 */
export interface IdSource {
  /** a command id: time-ordered, unguessable (domain/ids.ts) */
  commandId(nowMs: number): string;
  /** a device id (a UUID, DESIGN 2) */
  deviceId(): string;
  /** a device token: opaque, 256 bits (DESIGN 4) */
  deviceToken(): string;
  /** one live connection of a device, unique across nodes */
  connectionId(): string;
}

/**
 * Ids from the CSPRNG. Command ids draw their randomness from a 4 KiB pool:
 * one `randomBytes` call per id cost 2% of the server's time under load.
 *
 * @example
 * const ids = cryptoIds();
 * ids.commandId(Date.now()); // '018F3A...'
 */
export function cryptoIds(random: (n: number) => Uint8Array = pooledRandomBytes()): IdSource {
  const nextCommandId = commandIdSource(random);
  return {
    commandId: nextCommandId,
    deviceId: () => randomUUID(),
    deviceToken: () => 'appia_dt_' + Buffer.from(random(32)).toString('base64url'),
    connectionId: () => Buffer.from(random(12)).toString('base64url'),
  };
}

/**
 * DESIGN 4: a device token is stored only as its SHA-256 hash. A fast hash is
 * right here: the token is random, so there is nothing to brute-force that a
 * slow hash would protect.
 */
export function hashDeviceToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function pooledRandomBytes(): (n: number) => Uint8Array {
  let pool = Buffer.alloc(0);
  let offset = 0;
  return (n) => {
    if (offset + n > pool.length) {
      pool = randomBytes(Math.max(4096, n));
      offset = 0;
    }
    const bytes = pool.subarray(offset, offset + n);
    offset += n;
    return bytes;
  };
}
