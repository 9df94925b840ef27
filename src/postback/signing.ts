import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** The three Standard Webhooks headers a postback carries (DESIGN 6); a type, so it passes as a header record. */
export type PostbackSignatureHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/** A user's secrets as the store keeps them (the previous one signs too until `previousUntil`). */
export interface PostbackSecretsState {
  readonly current: string;
  readonly previous: string | null;
  readonly previousUntil: number | null;
}

/** How long the secret before a rotation keeps signing (DESIGN 6: 24 h). */
export const PREVIOUS_SECRET_SIGNS_MS = 24 * 3600 * 1000;

/**
 * A new owner secret: `whsec_` and the base64 of 32 random bytes, the form
 * the `standardwebhooks` package (and its ports) read.
 *
 * @example
 * newPostbackSecret(); // 'whsec_1kWnC0Cr5Q0jJ9...='
 */
export function newPostbackSecret(random: (size: number) => Buffer = randomBytes): string {
  return `whsec_${random(32).toString('base64')}`;
}

/**
 * The secrets that sign at `now`: the current one first, then the previous
 * one while its 24 h after a rotation last.
 *
 * @example
 * signingSecrets({ current: a, previous: b, previousUntil: now + 1000 }, now); // [a, b]
 */
export function signingSecrets(secrets: PostbackSecretsState, now: number): string[] {
  const previousSigns = secrets.previous !== null && secrets.previousUntil !== null && now < secrets.previousUntil;
  return previousSigns ? [secrets.current, secrets.previous!] : [secrets.current];
}

/**
 * Signs one attempt of a postback, per Standard Webhooks: `webhook-id`
 * (unchanged across retries, so receivers drop duplicates),
 * `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
 * (`v1,<base64>` per secret, space-separated). The package's `Webhook` class
 * computes each signature, so Appia signs exactly what receivers verify.
 *
 * @example
 * const headers = signPostback({ secrets: [secret], webhookId: 'msg_01A2_1', timestamp: new Date(), body });
 * new Webhook(secret).verify(body, headers); // the receiver's side
 */
export function signPostback(input: {
  readonly secrets: readonly string[];
  readonly webhookId: string;
  readonly timestamp: Date;
  readonly body: string;
}): PostbackSignatureHeaders {
  const { secrets, webhookId, timestamp, body } = input;
  if (secrets.length === 0) throw new TypeError('signPostback needs at least one secret');
  if (Number.isNaN(timestamp.getTime())) throw new TypeError('signPostback needs a valid timestamp');
  // The id goes into a header and into the signed text, where "." separates parts.
  if (!/^[\w-]{1,256}$/.test(webhookId)) throw new TypeError(`webhook id must be 1-256 letters, digits, "_" or "-" (got ${JSON.stringify(webhookId)})`);
  const signatures = secrets.map((secret) => new Webhook(secret).sign(webhookId, timestamp, body));
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
