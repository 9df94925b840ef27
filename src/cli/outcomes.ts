import { TABLE } from '../domain/lifecycle.js';
import { isFinal } from '../domain/policy.js';
import { parseStatus } from '../domain/status.js';

/**
 * What the CLI makes of a status, read from the domain (DESIGN 3) rather
 * than a list of names of its own.
 */

/** the status a device's success report leads to: `send --wait` exits 0 only for it */
export const SUCCEEDED: string = TABLE.executing.completed;
/** the status a confirmed cancel leads to: `cancel --wait` exits 0 only for it */
export const CANCELED: string = TABLE.cancelling.canceledByDevice;

/** true for a final status (one that never changes); false for an unknown name */
export function isFinalStatus(status: string): boolean {
  const known = parseStatus(status);
  return known !== undefined && isFinal(known);
}
