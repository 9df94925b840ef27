// DESIGN 6, signing: receivers verify with the standardwebhooks package, not code of their own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { newPostbackSecret, signingSecrets, signPostback } from '../../src/postback/signing.js';

const body = JSON.stringify({ id: '01A2', status: 'completed', sequence: 4 });

describe('postback signatures (Standard Webhooks)', () => {
  test('a new secret is whsec_ and the base64 of 32 random bytes, different each time', () => {
    const a = newPostbackSecret();
    assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(a.slice('whsec_'.length), 'base64').length, 32);
    assert.notEqual(newPostbackSecret(), a);
  });

  test('a receiver holding either secret of a rotation verifies the same postback', () => {
    const [current, previous] = [newPostbackSecret(), newPostbackSecret()];
    const headers = signPostback({ secrets: [current, previous], webhookId: 'msg_01A2_4', timestamp: new Date(), body });
    assert.equal(headers['webhook-id'], 'msg_01A2_4');
    assert.match(headers['webhook-timestamp'], /^\d{10}$/);
    assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/=]+ v1,[A-Za-z0-9+/=]+$/);
    for (const secret of [current, previous]) assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
    assert.throws(() => new Webhook(newPostbackSecret()).verify(body, { ...headers }), WebhookVerificationError, 'a stranger\'s secret does not verify');
  });

  test('a tampered body, a changed id or an old timestamp fails verification', () => {
    const secret = newPostbackSecret();
    const receiver = new Webhook(secret);
    const headers = signPostback({ secrets: [secret], webhookId: 'msg_01A2_1', timestamp: new Date(), body });
    assert.throws(() => receiver.verify(body.replace('completed', 'canceled'), { ...headers }), /No matching signature/);
    assert.throws(() => receiver.verify(body, { ...headers, 'webhook-id': 'msg_01A2_2' }), /No matching signature/);
    const old = signPostback({ secrets: [secret], webhookId: 'msg_01A2_1', timestamp: new Date(Date.now() - 10 * 60 * 1000), body });
    assert.throws(() => receiver.verify(body, { ...old }), /timestamp too old/);
  });

  test('the timestamp header is the attempt time in whole unix seconds', () => {
    const headers = signPostback({ secrets: [newPostbackSecret()], webhookId: 'msg_x_1', timestamp: new Date(1_700_000_000_999), body });
    assert.equal(headers['webhook-timestamp'], '1700000000');
  });

  test('the previous secret signs too until its 24 h after the rotation are over', () => {
    const secrets = { current: 'whsec_Y3VycmVudA==', previous: 'whsec_cHJldmlvdXM=', previousUntil: 5000 };
    assert.deepEqual(signingSecrets(secrets, 4999), [secrets.current, secrets.previous]);
    assert.deepEqual(signingSecrets(secrets, 5000), [secrets.current]);
    assert.deepEqual(signingSecrets({ current: secrets.current, previous: null, previousUntil: null }, 0), [secrets.current]);
  });

  test('signing without a secret, with a bad secret or with an id that would break the header is refused', () => {
    assert.throws(() => signPostback({ secrets: [], webhookId: 'msg_x_1', timestamp: new Date(), body }), /at least one secret/);
    assert.throws(() => signPostback({ secrets: ['whsec_'], webhookId: 'msg_x_1', timestamp: new Date(), body }), /empty/);
    assert.throws(() => signPostback({ secrets: [newPostbackSecret()], webhookId: 'msg.1\r\nx', timestamp: new Date(), body }), /webhook id/);
    assert.throws(() => signPostback({ secrets: [newPostbackSecret()], webhookId: 'msg_x_1', timestamp: new Date(NaN), body }), /valid timestamp/);
  });
});
