/**
 * Everything that can happen to a command, named for its cause (DESIGN 3).
 * Creation is not an event: a command is born INITIAL_STATUS (lifecycle.ts).
 */
export const EVENTS = [
  /** written to the device's live connection (an attempt) */
  'sent',
  /** the write failed, no receipt came in time, or the connection dropped first */
  'deliveryFailed',
  /** delivery attempts are used up */
  'attemptsExhausted',
  /** the device acknowledged receipt */
  'received',
  /** the device reported progress (`customStatus`) */
  'progress',
  /** the device reported success (with `responsePayload`) */
  'completed',
  /** the device reported failure (with `error`) */
  'failed',
  /** the device dropped it (standby / ConnectedStandby) */
  'dropped',
  /** the owner asked to cancel */
  'cancelRequested',
  /** a cancel was asked before the command reached the device */
  'cancelUndelivered',
  /** the cancel was sent to the device */
  'cancelSent',
  /** the device confirmed the cancel */
  'canceledByDevice',
  /** the device did not answer the cancel within the cancel timeout */
  'cancelTimedOut',
  /** the device was removed by its owner */
  'deviceRemoved',
  /** `expirationDateTime` passed */
  'expire',
  /** an internal fault left the command unprocessable */
  'fault',
] as const;

export type LifecycleEvent = (typeof EVENTS)[number];
