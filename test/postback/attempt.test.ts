// DESIGN 6: what one attempt's result means for its outbox entry (pure: the clock and jitter are passed in).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { postbackBody, postbackOutcome } from '../../src/postback/attempt.js';
import { POSTBACK_RETRY } from '../../src/postback/retry-policy.js';
import type { SendOutcome } from '../../src/postback/sender.js';

const HOUR = 3600_000;
const t0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const clock = (at: number, endedAt = at + 40) => ({ at, endedAt, random: () => 0.5, retry: POSTBACK_RETRY });
const fresh = { sequence: 3, attempts: 0, firstAttemptAt: null };
const http500: SendOutcome = { delivered: false, status: 500, error: 'HTTP 500 (Internal Server Error): oops', retry: true };

describe('an attempt\'s outcome', () => {
  test('a 2xx is delivered, with the time the attempt was made', () => {
    assert.deepEqual(postbackOutcome(fresh, { delivered: true, status: 204 }, clock(t0)), { state: 'delivered', at: t0, responseStatus: 204 });
  });

  test('a first failure is retried after the first backoff, counted from when the attempt ended', () => {
    assert.deepEqual(postbackOutcome(fresh, http500, clock(t0)), {
      state: 'pending', at: t0, responseStatus: 500, error: 'HTTP 500 (Internal Server Error): oops', nextAttemptAt: t0 + 40 + 750,
    });
  });

  test('a Retry-After longer than the backoff is honoured', () => {
    const busy: SendOutcome = { delivered: false, status: 429, error: 'HTTP 429 (Too Many Requests)', retryAfterMs: 30_000, retry: true };
    const outcome = postbackOutcome({ ...fresh, attempts: 2, firstAttemptAt: t0 - 5000 }, busy, clock(t0));
    assert.equal(outcome.state === 'pending' && outcome.nextAttemptAt, t0 + 40 + 30_000);
  });

  test('a network error keeps no response status', () => {
    const refused: SendOutcome = { delivered: false, error: 'connection refused (127.0.0.1:9)', retry: true };
    const outcome = postbackOutcome(fresh, refused, clock(t0));
    assert.equal(outcome.responseStatus, null);
    assert.equal(outcome.state === 'pending' && outcome.error, 'connection refused (127.0.0.1:9)');
  });

  test('once 24 h have passed since the first attempt the entry is given up, and the note says how long and what came last', () => {
    const tried = { sequence: 3, attempts: 189, firstAttemptAt: t0 - 24 * HOUR };
    assert.deepEqual(postbackOutcome(tried, http500, clock(t0 - 40, t0)), {
      state: 'failed', at: t0 - 40, responseStatus: 500, error: http500.error, historyNote: 'postback 3 given up after 190 attempts over 24 h (last: HTTP 500)',
    });
    const refused: SendOutcome = { delivered: false, error: 'connection refused (127.0.0.1:9)', retry: true };
    const note = postbackOutcome(tried, refused, clock(t0 - 40, t0));
    assert.equal(note.state === 'failed' && note.historyNote, 'postback 3 given up after 190 attempts over 24 h (last: connection refused (127.0.0.1:9))');
    assert.equal(postbackOutcome({ ...tried, firstAttemptAt: t0 - 24 * HOUR + 1 }, http500, clock(t0 - 40, t0)).state, 'pending', 'not a moment before');
  });

  test('when another attempt cannot help (410 Gone, a URL no longer allowed) it is given up at the first attempt', () => {
    const gone: SendOutcome = { delivered: false, status: 410, error: 'HTTP 410 (Gone)', retry: false };
    const outcome = postbackOutcome(fresh, gone, clock(t0));
    assert.equal(outcome.state === 'failed' && outcome.historyNote, 'postback 3 given up after 1 attempt: another attempt cannot help (last: HTTP 410)');
  });
});

describe('a postback\'s body', () => {
  test('is the command as the API shows it, plus its sequence', () => {
    const record = {
      id: '01A2', userId: 'alice', deviceId: 'd-1', type: 'LaunchUri', payloadJson: '{"uri":"https://example.com/"}', appServiceName: null,
      packageFamilyName: null, permissionTicket: 'ticket', postBackUri: 'https://hooks.example.com/', status: 'completed', error: null,
      responsePayloadJson: '{"opened":true}', customStatus: null, createdAt: t0, lastModifiedAt: t0 + 1000, expiresAt: t0 + 24 * HOUR, attempts: 1, dueAt: null,
    };
    assert.deepEqual(JSON.parse(postbackBody({ recordJson: JSON.stringify(record), sequence: 4 })), {
      id: '01A2', status: 'completed', type: 'LaunchUri', appServiceName: null, packageFamilyName: null, error: null, permissionTicket: 'ticket',
      postBackUri: 'https://hooks.example.com/', payload: { uri: 'https://example.com/' }, responsePayload: { opened: true }, customStatus: null,
      createdDateTime: '2026-06-01T12:00:00.000Z', lastModifiedDateTime: '2026-06-01T12:00:01.000Z', expirationDateTime: '2026-06-02T12:00:00.000Z',
      sequence: 4,
    });
  });

  test("of a batch's command carries its batchId and deviceId (DESIGN 9)", () => {
    const record = {
      id: '01A3', userId: 'alice', deviceId: 'd-2', type: 'LaunchUri', payloadJson: '{"uri":"https://example.com/"}', appServiceName: null,
      packageFamilyName: null, permissionTicket: null, postBackUri: 'https://hooks.example.com/', status: 'requesting', error: null,
      responsePayloadJson: null, customStatus: null, createdAt: t0, lastModifiedAt: t0, expiresAt: t0 + 24 * HOUR, attempts: 0, dueAt: null, batchId: '01B0',
    };
    const body = JSON.parse(postbackBody({ recordJson: JSON.stringify(record), sequence: 1 }));
    assert.deepEqual([body.batchId, body.deviceId, body.sequence], ['01B0', 'd-2', 1]);
  });
});
