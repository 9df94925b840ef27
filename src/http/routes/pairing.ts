import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PollAnswer } from '../../core/pairing.js';
import { AppiaError } from '../../domain/errors.js';
import { SCOPES, type AppConfig, type AppDeps } from '../context.js';
import { canonicalKeys } from '../input.js';
import { baseUrl, graphUrl } from '../odata.js';
import { PAIRING_TOKEN_KEYS, PairingTokenBody, PollAnswers, StartedPairing, USER_CODE_KEYS, UserCodeBody } from '../pairing-schemas.js';
import { connectionClientKey, RateLimiter } from '../rate-limit.js';
import { representation } from '../representation-context.js';
import { deviceJson } from '../representation.js';
import { answers, DeviceEntity, NoContent } from '../response-schemas.js';
import { REGISTER_DEVICE_KEYS, RegisterDeviceBody } from '../schemas.js';

export interface PairingConfig extends AppConfig {
  /** DESIGN 10: wrong codes per minute per user and per client address, then 429 (0 = no limit) */
  readonly pairingGuessLimit?: number;
}

/** the RFC 8628 3.5 error code of each answer without a token */
const POLL_ERRORS = {
  pending: 'authorization_pending',
  slowDown: 'slow_down',
  expired: 'expired_token',
  denied: 'access_denied',
  collected: 'invalid_grant',
  unknown: 'invalid_grant',
} as const satisfies Record<Exclude<PollAnswer['kind'], 'issued'>, string>;

const POLL_DESCRIPTIONS = {
  pending: 'the owner has not approved the code yet',
  slowDown: 'polled sooner than the interval: wait longer between polls',
  expired: 'the code expired; ask for a new one',
  denied: 'the owner refused the pairing, or removed the device',
  collected: 'the device token was handed out already',
  unknown: 'no such pairing',
} as const;

/**
 * DESIGN 10: device pairing. `devices` are the device's two calls outside
 * the Graph roots (no token: the pairing id is the device's secret); `owner`
 * is the signed-in owner's approval, registered under /beta and /v1.0. One
 * pair shares its limits, so register both from one call.
 */
export function pairingRoutes(deps: AppDeps, config: PairingConfig): { devices: FastifyPluginAsyncTypebox; owner: FastifyPluginAsyncTypebox } {
  const { core } = deps;
  // the device's calls are unauthenticated: a budget per client address, as for failed authentications (DESIGN 8)
  const calls = new RateLimiter(config.authFailureLimit ?? 0, deps.now);
  // DESIGN 10: guessing codes meets 429, per user and per client address, counted per minute
  const guesses = new RateLimiter(config.pairingGuessLimit ?? 0, deps.now, 60_000);
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

  const limitCalls = async (request: FastifyRequest) => {
    if (!calls.take(connectionClientKey(request.raw.socket))) {
      throw new AppiaError('rateLimited', `more than ${config.authFailureLimit} pairing calls per second from this address`, { retryAfter: calls.retryAfter() });
    }
  };

  /** a wrong code counts against the caller and their address; past the limit even a right one is 429 */
  const guarding = async <T>(request: FastifyRequest, attempt: () => Promise<T | undefined>): Promise<T> => {
    const keys = [`user ${request.caller.userId}`, `address ${connectionClientKey(request.raw.socket)}`];
    if (keys.some((key) => guesses.exhausted(key))) {
      throw new AppiaError('rateLimited', `more than ${config.pairingGuessLimit} wrong pairing codes in a minute`, { retryAfter: guesses.retryAfter() });
    }
    const found = await attempt();
    if (found !== undefined) return found;
    for (const key of keys) guesses.take(key);
    throw new AppiaError('notFound', 'no device is waiting to pair with this code: check it, or ask the device for a new one (codes expire)');
  };

  const devices: FastifyPluginAsyncTypebox = async (app) => {
    app.post(
      '/devices/pair',
      {
        schema: { body: RegisterDeviceBody, response: answers({ 200: StartedPairing }) },
        onRequest: limitCalls,
        preValidation: async (request) => {
          request.body = canonicalKeys(request.body, REGISTER_DEVICE_KEYS) as typeof request.body;
        },
      },
      async (request, reply) => {
        const body = request.body;
        const started = await core.pairing.start({
          name: body.name,
          kind: body.kind ?? null,
          platform: body.platform ?? null,
          model: body.model ?? null,
          manufacturer: body.manufacturer ?? null,
        });
        const consoleUrl = `${baseUrl(request, config.publicUrl)}/`;
        return noStore(reply).send({
          pairingId: started.pairingId,
          userCode: started.userCode,
          verificationUri: consoleUrl,
          verificationUriComplete: `${consoleUrl}#pair=${started.userCode}`,
          expiresIn: started.expiresInSeconds,
          interval: started.intervalSeconds,
        });
      },
    );

    app.post(
      '/devices/pair/token',
      {
        schema: { body: PairingTokenBody, response: PollAnswers },
        onRequest: limitCalls,
        preValidation: async (request) => {
          request.body = canonicalKeys(request.body, PAIRING_TOKEN_KEYS) as typeof request.body;
        },
      },
      async (request, reply) => {
        const answer = await core.pairing.poll(request.body.pairingId);
        noStore(reply);
        if (answer.kind === 'issued') return reply.send({ deviceId: answer.deviceId, deviceToken: answer.deviceToken });
        const interval = answer.kind === 'pending' || answer.kind === 'slowDown' ? { interval: answer.intervalMs / 1000 } : {};
        return reply.code(400).send({ error: POLL_ERRORS[answer.kind], error_description: POLL_DESCRIPTIONS[answer.kind], ...interval });
      },
    );
  };

  const owner: FastifyPluginAsyncTypebox = async (app) => {
    const body = {
      body: UserCodeBody,
      preValidation: async (request: FastifyRequest) => {
        request.body = canonicalKeys(request.body, USER_CODE_KEYS) as typeof request.body;
      },
    };
    app.post(
      '/me/devicePairings',
      { schema: { body: UserCodeBody, response: answers({ 201: DeviceEntity }) }, config: { scopes: SCOPES.command }, preValidation: body.preValidation },
      async (request, reply) => {
        const device = await guarding(request, () => core.pairing.approve(request.caller.userId, request.body.userCode));
        return reply
          .code(201)
          .header('Location', graphUrl(request, config.publicUrl, `/me/devices/${device.id}`))
          .type('application/json')
          .send({ '@odata.context': representation(request, config).device(), ...deviceJson(device) });
      },
    );

    app.post(
      '/me/devicePairings/deny',
      { schema: { body: UserCodeBody, response: answers({ 204: NoContent }) }, config: { scopes: SCOPES.command }, preValidation: body.preValidation },
      async (request, reply) => {
        await guarding(request, async () => ((await core.pairing.deny(request.caller.userId, request.body.userCode)) ? true : undefined));
        return reply.code(204).send();
      },
    );
  };

  return { devices, owner };
}
