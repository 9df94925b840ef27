import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BatchRecord } from '../../domain/batch.js';
import { AppiaError } from '../../domain/errors.js';
import { isCommandId, isUuid } from '../../domain/ids.js';
import type { BatchTargets } from '../../core/batches.js';
import { resolvePostbackHost } from '../../postback/address-guard.js';
import { NO_POSTBACK_ALLOW } from '../../postback/allow-list.js';
import { SCOPES, type AppConfig, type AppDeps } from '../context.js';
import { canonicalKeys, payloadFromString } from '../input.js';
import { decodeSkipToken, encodeSkipToken, graphUrl, nextLink, parseExpand, parseStatusFilter, parseTop } from '../odata.js';
import { representation } from '../representation-context.js';
import { batchJson, commandCollectionJson } from '../representation.js';
import { answers, CommandBatch, CommandBatchCollection, CommandCollection, QueuePurge } from '../response-schemas.js';
import { BatchParams, CREATE_BATCH_KEYS, CreateBatchBody, DeviceParams, ListQuery } from '../schemas.js';
import { commandInput, idempotencyKey, preferWait } from './commands.js';

const COMMAND = { scopes: SCOPES.command } as const;
const PAGED = { scopes: SCOPES.command, query: ['$top', '$skiptoken'] } as const;
const LIST = { scopes: SCOPES.command, query: ['$top', '$skiptoken', '$filter', '$expand'] } as const;
const PagedQuery = ListQuery;

/** DESIGN 9: one command to many devices, and a device's whole queue canceled at once. */
export function batchRoutes(deps: AppDeps, config: AppConfig): FastifyPluginAsyncTypebox {
  const { core } = deps;
  const postbacks = deps.postbackTargets ?? { allow: NO_POSTBACK_ALLOW };

  return async (app) => {
    app.post(
      '/me/commandBatches',
      {
        schema: { body: CreateBatchBody, response: answers({ 201: CommandBatch }) },
        config: COMMAND,
        preValidation: async (request) => {
          request.body = payloadFromString(canonicalKeys(request.body, CREATE_BATCH_KEYS), config.maxJsonDepth) as typeof request.body;
        },
      },
      async (request, reply) => {
        const { userId } = request.caller;
        const { deviceIds, all, kind, ...command } = request.body;
        const targets = batchTargets(deviceIds, all, kind);
        const input = commandInput(command, core.now(), config, postbacks.allow);
        const key = idempotencyKey(request);
        // DESIGN 6: every address the host resolves to must be allowed, before anything is stored
        if (input.postBackUri !== null) await resolvePostbackHost(new URL(input.postBackUri), postbacks.allow, postbacks.lookup);
        // DESIGN 8: a wait is a hold, refused (429) before anything is created
        const wait = preferWait(request);
        const release = wait === undefined ? undefined : app.holds.take(userId);
        let batch: BatchRecord;
        let created: boolean;
        try {
          ({ batch, created } = await core.createBatch(userId, targets, input, key === undefined ? {} : { idempotencyKey: key }));
          if (wait !== undefined) batch = await core.waitForBatch(userId, batch.id, wait * 1000);
        } finally {
          release?.();
        }
        if (wait !== undefined) reply.header('Preference-Applied', `wait=${wait}`);
        if (!created) reply.header('Idempotent-Replayed', 'true');
        return reply
          .code(201)
          .header('Location', graphUrl(request, config.publicUrl, `/me/commandBatches/${batch.id}`))
          .send({ '@odata.context': representation(request, config).batch(), ...batchJson(batch) });
      },
    );

    app.get('/me/commandBatches', { schema: { querystring: PagedQuery, response: answers({ 200: CommandBatchCollection }) }, config: PAGED }, async (request, reply) => {
      const limit = parseTop(request.query.$top);
      const position = decodeSkipToken(request.query.$skiptoken, (v): v is { b: string } => typeof v['b'] === 'string' && isCommandId(v['b']));
      const rows = await core.listBatches(request.caller.userId, { limit: limit + 1, ...(position ? { beforeId: position.b } : {}) });
      const page = rows.slice(0, limit);
      const more = rows.length > limit ? nextLink(request, config.publicUrl, encodeSkipToken({ b: page[page.length - 1]!.id })) : undefined;
      return reply.send({ '@odata.context': representation(request, config).batches(), value: page.map(batchJson), ...(more ? { '@odata.nextLink': more } : {}) });
    });

    app.get('/me/commandBatches/:batchId', { schema: { params: BatchParams, response: answers({ 200: CommandBatch }) }, config: COMMAND }, async (request, reply) => {
      let batch = await core.getBatch(request.caller.userId, batchIdOf(request.params.batchId));
      batch = await waitIfAsked(request, reply, batch);
      return reply.send({ '@odata.context': representation(request, config).batch(), ...batchJson(batch) });
    });

    app.get(
      '/me/commandBatches/:batchId/commands',
      { schema: { params: BatchParams, querystring: ListQuery, response: answers({ 200: CommandCollection }) }, config: LIST },
      async (request, reply) => {
        const batchId = batchIdOf(request.params.batchId);
        const limit = parseTop(request.query.$top);
        const status = parseStatusFilter(request.query.$filter);
        const expand = parseExpand(request.query.$expand);
        const position = decodeSkipToken(request.query.$skiptoken, (v): v is { a: string } => typeof v['a'] === 'string' && isCommandId(v['a']));
        const rows = await core.listBatchCommands(request.caller.userId, batchId, {
          limit: limit + 1,
          ...(status ? { status } : {}),
          ...(position ? { afterId: position.a } : {}),
        });
        const page = rows.slice(0, limit);
        const more = rows.length > limit ? nextLink(request, config.publicUrl, encodeSkipToken({ a: page[page.length - 1]!.id })) : undefined;
        return reply.type('application/json').send(commandCollectionJson(page, representation(request, config).batchCommands(batchId), more, expand));
      },
    );

    app.post('/me/commandBatches/:batchId/cancel', { schema: { params: BatchParams, response: answers({ 200: CommandBatch }) }, config: COMMAND }, async (request, reply) => {
      const batch = await core.cancelBatch(request.caller.userId, batchIdOf(request.params.batchId));
      return reply.send({ '@odata.context': representation(request, config).batch(), ...batchJson(batch) });
    });

    // DESIGN 9: a device queue purge
    app.post('/me/devices/:deviceId/commands/cancel', { schema: { params: DeviceParams, response: answers({ 200: QueuePurge }) }, config: COMMAND }, async (request, reply) => {
      const { deviceId } = request.params;
      if (!isUuid(deviceId)) throw new AppiaError('notFound', `device ${deviceId} was not found`);
      return reply.send({ canceled: await core.purgeDeviceQueue(request.caller.userId, deviceId) });
    });

    /** `Prefer: wait=N` holds the answer until the batch is done (a hold, DESIGN 8) */
    async function waitIfAsked(request: FastifyRequest, reply: FastifyReply, batch: BatchRecord): Promise<BatchRecord> {
      const wait = preferWait(request);
      if (wait === undefined) return batch;
      const release = app.holds.take(request.caller.userId);
      try {
        batch = await core.waitForBatch(request.caller.userId, batch.id, wait * 1000);
      } finally {
        release();
      }
      reply.header('Preference-Applied', `wait=${wait}`);
      return batch;
    }
  };
}

/** DESIGN 9: listed device ids, or `all` (optionally of one kind); anything else is 400 */
function batchTargets(deviceIds: string[] | undefined, all: boolean | undefined, kind: string | null | undefined): BatchTargets {
  if (deviceIds !== undefined && all !== undefined) throw new AppiaError('badRequest', 'give deviceIds or all, not both');
  if (all === true) return kind == null ? { all: true } : { all: true, kind };
  if (kind != null) throw new AppiaError('badRequest', 'kind narrows all: it needs "all": true');
  if (all === false) throw new AppiaError('badRequest', 'all must be true when given (or list deviceIds)');
  if (deviceIds === undefined) throw new AppiaError('badRequest', 'deviceIds (a list of device ids) or "all": true is required');
  if (deviceIds.length === 0) throw new AppiaError('badRequest', 'deviceIds is empty: list at least one device');
  // a malformed id is no device of the caller's: the whole batch is 404, as for any other (DESIGN 9)
  const bad = deviceIds.find((id) => !isUuid(id));
  if (bad !== undefined) throw new AppiaError('notFound', `device ${bad.slice(0, 128)} was not found`);
  return { deviceIds: deviceIds.map((id) => id.toLowerCase()) };
}

/** batch ids are matched in any case, like command ids (DESIGN 2); a malformed one is no batch of the caller's */
function batchIdOf(text: string): string {
  if (!isCommandId(text)) throw new AppiaError('notFound', `command batch ${text.slice(0, 128)} was not found`);
  return text.toUpperCase();
}
