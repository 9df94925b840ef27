/**
 * Command ids: time-ordered, unguessable, upper-case hex like the seed's
 * (`0158355AD4D680CC...`). 12 hex digits of milliseconds, then 32 of
 * randomness. Pure: the caller passes the clock and the random bytes.
 */
export function commandId(nowMs: number, random16: Uint8Array): string {
  if (random16.length !== 16) throw new RangeError('commandId needs 16 random bytes');
  return nowMs.toString(16).padStart(12, '0').toUpperCase() + Buffer.from(random16).toString('hex').toUpperCase();
}

const COMMAND_ID = /^[0-9A-F]{44}$/i;
export function isCommandId(text: string): boolean {
  return COMMAND_ID.test(text);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(text: string): boolean {
  return UUID.test(text);
}
