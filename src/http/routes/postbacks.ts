import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { CommandRecord } from '../../domain/command.js';
import { AppiaError } from '../../domain/errors.js';
import { isCommandId, isUuid } from '../../domain/ids.js';
import type { PostbackEntry, PostbackSecrets } from '../../core/postbacks.js';
import { SCOPES, type AppDeps } from '../context.js';
import { isoTime } from '../representation.js';
import { CommandParams } from '../schemas.js';
import { answers, PostbackDeliveries, PostbackSecret } from '../response-schemas.js';

const COMMAND = { scopes: SCOPES.command } as const;

/**
 * DESIGN 2 and 6: the owner's postback signing secret (read and rotate) and
 * a command's deliveries log. Another user's command is a 404; a user only
 * ever sees their own secret.
 */
export function postbackRoutes(deps: AppDeps): FastifyPluginAsyncTypebox {
  const { core } = deps;
  return async (app) => {
    app.get('/me/postBackSecret', { schema: { response: answers({ 200: PostbackSecret }) }, config: COMMAND }, async (request, reply) =>
      sendSecret(reply, await core.postbackSecrets(request.caller.userId), core.now()),
    );

    app.post('/me/postBackSecret/rotate', { schema: { response: answers({ 200: PostbackSecret }) }, config: COMMAND }, async (request, reply) =>
      sendSecret(reply, await core.rotatePostbackSecret(request.caller.userId), core.now()),
    );

    app.get('/me/devices/:deviceId/commands/:commandId/postbacks', { schema: { params: CommandParams, response: answers({ 200: PostbackDeliveries }) }, config: COMMAND }, async (request, reply) => {
      const { deviceId, commandId } = request.params;
      if (!isUuid(deviceId) || !isCommandId(commandId)) throw new AppiaError('notFound', `command ${commandId} was not found on device ${deviceId}`);
      const log = await core.postbackLog(request.caller.userId, deviceId, commandId.toUpperCase());
      return reply.type('application/json').send({ value: log.map(deliveryJson) });
    });
  };
}

/**
 * `{"secret"}`, and while the secret before the last rotation still signs,
 * until when (the old secret itself is never shown again).
 */
function sendSecret(reply: FastifyReply, secrets: PostbackSecrets, now: number): FastifyReply {
  const overlap = secrets.previous !== null && secrets.previousUntil !== null && now < secrets.previousUntil;
  // a secret is not for caches or proxies to keep
  return reply
    .header('Cache-Control', 'no-store')
    .type('application/json')
    .send({ secret: secrets.current, ...(overlap ? { previousSecretValidUntil: isoTime(secrets.previousUntil!) } : {}) });
}

/** one entry of the deliveries log (DESIGN 6) */
function deliveryJson(entry: PostbackEntry): Record<string, unknown> {
  const time = (ms: number | null) => (ms === null ? null : isoTime(ms));
  return {
    sequence: entry.sequence,
    status: (JSON.parse(entry.recordJson) as CommandRecord).status,
    webhookId: entry.webhookId,
    state: entry.state,
    attempts: entry.attempts,
    lastAttemptDateTime: time(entry.lastAttemptAt),
    lastResponseStatus: entry.lastResponseStatus,
    lastError: entry.lastError,
    nextAttemptDateTime: entry.state === 'pending' ? time(entry.nextAttemptAt) : null,
    deliveredDateTime: time(entry.deliveredAt),
  };
}
