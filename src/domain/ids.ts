/**
 * Command ids: time-ordered, unguessable, upper-case hex like the seed's
 * (`0158355AD4D680CC...`): 12 hex digits of milliseconds, 4 of a sequence
 * within that millisecond, then 28 (112 bits) of randomness. Pure: the caller
 * passes the clock, the sequence and the random bytes.
 */
export function commandId(nowMs: number, random14: Uint8Array, sequence = 0): string {
  if (random14.length !== 14) throw new RangeError('commandId needs 14 random bytes');
  return (
    nowMs.toString(16).padStart(12, '0').toUpperCase() +
    (sequence & 0xffff).toString(16).padStart(4, '0').toUpperCase() +
    Buffer.from(random14).toString('hex').toUpperCase()
  );
}

/**
 * Ids from one source sort in the order they were made, even within one
 * millisecond or when the clock steps back, so a device's commands are
 * delivered in creation order (DESIGN 4) by sorting on id.
 */
export function commandIdSource(random: (n: number) => Uint8Array): (nowMs: number) => string {
  let lastMs = -1;
  let sequence = 0;
  return (nowMs) => {
    if (nowMs > lastMs) {
      lastMs = nowMs;
      sequence = 0;
    } else if (++sequence > 0xffff) {
      lastMs += 1;
      sequence = 0;
    }
    return commandId(lastMs, random(14), sequence);
  };
}

const COMMAND_ID = /^[0-9A-F]{44}$/i;
export function isCommandId(text: string): boolean {
  return COMMAND_ID.test(text);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(text: string): boolean {
  return UUID.test(text);
}
