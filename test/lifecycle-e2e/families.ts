import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Status } from '../../src/domain/status.js';
import { reached } from './helpers.js';

/**
 * Which statuses each story file makes happen. Each file checks, last, that
 * its stories really reached its family (seen in the commands' own history
 * through the public API); completeness.test.ts checks that the families
 * together are the lifecycle's whole list.
 */
export const FAMILIES = {
  delivery: ['requesting', 'sentToTarget', 'executing', 'completed'],
  retry: ['retry', 'failedToSend'],
  cancel: ['cancel', 'cancelling', 'canceled'],
  'device-outcomes': ['custom', 'executionFailed', 'commandDropped'],
  'expiry-and-error': ['expired', 'error'],
} as const satisfies Record<string, readonly Status[]>;

/** the last test of a family's file: every status of the family was reached by its stories */
export function familyReached(family: keyof typeof FAMILIES): void {
  test(`the stories above reached every status of the ${family} family: ${FAMILIES[family].join(', ')}`, () => {
    const missing = FAMILIES[family].filter((s) => !reached.has(s));
    assert.deepEqual(missing, [], `never reached: ${missing.join(', ')}`);
  });
}
