import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { CommandRecord } from '../../domain/command.js';
import { parseCommandType } from '../../domain/command.js';
import { AppiaError } from '../../domain/errors.js';
import { isCommandId, isUuid } from '../../domain/ids.js';
import { MAX_TTL_MS } from '../../core/context.js';
import type { CommandInput } from '../../core/create.js';
import { checkPostbackUrl, resolvePostbackHost } from '../../postback/address-guard.js';
import { NO_POSTBACK_ALLOW, type PostbackAllowList } from '../../postback/allow-list.js';
import { SCOPES, type AppConfig, type AppDeps } from '../context.js';
import { tooDeep } from '../../domain/json.js';
import { canonicalKeys, hasControlCharacters, isAbsoluteUri, payloadFromString } from '../input.js';
import { decodeSkipToken, graphUrl, encodeSkipToken, nextLink, parseExpand, parseStatusFilter, parseTop } from '../odata.js';
import { representation } from '../representation-context.js';
import { commandCollectionJson, commandEntityJson, historyJson, responsePayloadJson } from '../representation.js';
import { CREATE_COMMAND_KEYS, CommandParams, CreateCommandBody, DeviceParams, ExpandQuery, ListQuery } from '../schemas.js';
import { answers, CommandCollection, CommandEntity, CommandHistory, PayloadResponse } from '../response-schemas.js';

const COMMAND = { scopes: SCOPES.command } as const;
/** DESIGN 2: the query options each route supports; any other is 400 (query-options.ts) */
const LIST = { scopes: SCOPES.command, query: ['$top', '$skiptoken', '$filter', '$expand'] } as const;
const EXPANDABLE = { scopes: SCOPES.command, query: ['$expand'] } as const;
const MAX_WAIT_SECONDS = 60;

/** DESIGN 2: commands of one of the caller's devices. */
export function commandRoutes(deps: AppDeps, config: AppConfig): FastifyPluginAsyncTypebox {
  const { core } = deps;
  const postbacks = deps.postbackTargets ?? { allow: NO_POSTBACK_ALLOW };

  return async (app) => {
    app.post(
      '/me/devices/:deviceId/commands',
      {
        schema: { params: DeviceParams, body: CreateCommandBody, response: answers({ 201: CommandEntity }) },
        config: COMMAND,
        preValidation: async (request) => {
          // DESIGN 2: a payload given as a string holding a JSON object is that object
          request.body = payloadFromString(canonicalKeys(request.body, CREATE_COMMAND_KEYS), config.maxJsonDepth) as typeof request.body;
        },
      },
      async (request, reply) => {
        const { userId } = request.caller;
        const { deviceId } = request.params;
        const input = commandInput(request.body, core.now(), config, postbacks.allow);
        const key = idempotencyKey(request);
        const wait = preferWait(request);
        // The store refuses a device that is not this user's (notFound) in the same transaction.
        if (!isUuid(deviceId)) throw new AppiaError('notFound', `device ${deviceId} was not found`);
        // DESIGN 6: every address the host resolves to must be allowed, before anything is stored
        if (input.postBackUri !== null) await resolvePostbackHost(new URL(input.postBackUri), postbacks.allow, postbacks.lookup);
        // DESIGN 8: a wait is a hold, refused (429) before anything is created
        const release = wait === undefined ? undefined : app.holds.take(userId);
        let command: CommandRecord;
        let created: boolean;
        try {
          ({ command, created } = await core.createCommand(userId, deviceId, input, key === undefined ? {} : { idempotencyKey: key }));
          if (wait !== undefined) command = (await core.waitForFinal(userId, deviceId, command.id, wait * 1000)) ?? command;
        } finally {
          release?.();
        }
        const location = graphUrl(request, config.publicUrl, `/me/devices/${deviceId}/commands/${command.id}`);
        if (wait !== undefined) reply.header('Preference-Applied', `wait=${wait}`);
        if (!created) reply.header('Idempotent-Replayed', 'true');
        return reply
          .code(201)
          .header('Location', location)
          .type('application/json')
          .send(commandEntityJson(command, representation(request, config).command(deviceId)));
      },
    );

    app.get('/me/devices/:deviceId/commands', { schema: { params: DeviceParams, querystring: ListQuery, response: answers({ 200: CommandCollection }) }, config: LIST }, async (request, reply) => {
      const { userId } = request.caller;
      const { deviceId } = request.params;
      const limit = parseTop(request.query.$top);
      const status = parseStatusFilter(request.query.$filter);
      const expand = parseExpand(request.query.$expand);
      const position = decodeSkipToken(request.query.$skiptoken, (v): v is { b: string } => typeof v['b'] === 'string' && isCommandId(v['b']));
      if (!isUuid(deviceId) || !(await core.getDevice(userId, deviceId))) throw new AppiaError('notFound', `device ${deviceId} was not found`);
      const rows = await core.listCommands(userId, deviceId, {
        limit: limit + 1,
        ...(status ? { status } : {}),
        ...(position ? { beforeId: position.b } : {}),
      });
      const page = rows.slice(0, limit);
      const more = rows.length > limit ? nextLink(request, config.publicUrl, encodeSkipToken({ b: page[page.length - 1]!.id })) : undefined;
      return reply.type('application/json').send(commandCollectionJson(page, representation(request, config).commands(deviceId), more, expand));
    });

    // DESIGN 2: the seed also spells it `command/{id}`; serve that for GET of a command and its payload.
    for (const segment of ['commands', 'command']) {
      app.get(`/me/devices/:deviceId/${segment}/:commandId`, { schema: { params: CommandParams, querystring: ExpandQuery, response: answers({ 200: CommandEntity }) }, config: EXPANDABLE }, async (request, reply) => {
        const { deviceId } = request.params;
        const expand = parseExpand(request.query.$expand);
        let command = await findCommand(request, deviceId, request.params.commandId);
        const wait = preferWait(request);
        if (wait !== undefined) {
          const release = app.holds.take(request.caller.userId);
          try {
            command = (await core.waitForFinal(request.caller.userId, deviceId, command.id, wait * 1000)) ?? command;
          } finally {
            release();
          }
          reply.header('Preference-Applied', `wait=${wait}`);
        }
        return reply.type('application/json').send(commandEntityJson(command, representation(request, config).command(deviceId), expand));
      });

      app.get(`/me/devices/:deviceId/${segment}/:commandId/responsePayload`, { schema: { params: CommandParams, response: answers({ 200: PayloadResponse }) }, config: COMMAND }, async (request, reply) => {
        const command = await findCommand(request, request.params.deviceId, request.params.commandId);
        if (command.responsePayloadJson === null) {
          throw new AppiaError('notFound', `command ${command.id} has no response payload yet (status ${command.status})`);
        }
        return reply.type('application/json').send(responsePayloadJson(command.responsePayloadJson, representation(request, config).payloadResponse()));
      });
    }

    app.post('/me/devices/:deviceId/commands/:commandId/cancel', { schema: { params: CommandParams, response: answers({ 200: CommandEntity }) }, config: COMMAND }, async (request, reply) => {
      const { deviceId, commandId } = request.params;
      await findCommand(request, deviceId, commandId);
      const command = await core.cancelCommand(request.caller.userId, deviceId, commandId.toUpperCase());
      return reply.type('application/json').send(commandEntityJson(command, representation(request, config).command(deviceId)));
    });

    app.get('/me/devices/:deviceId/commands/:commandId/history', { schema: { params: CommandParams, response: answers({ 200: CommandHistory }) }, config: COMMAND }, async (request, reply) => {
      const { deviceId } = request.params;
      const command = await findCommand(request, deviceId, request.params.commandId);
      const history = await core.history(command.id);
      return reply.type('application/json').send({
        '@odata.context': representation(request, config).history(deviceId, command.id),
        value: history.map(historyJson),
      });
    });
  };

  async function findCommand(request: FastifyRequest, deviceId: string, commandId: string): Promise<CommandRecord> {
    const command =
      isUuid(deviceId) && isCommandId(commandId) ? await core.getCommand(request.caller.userId, deviceId, commandId.toUpperCase()) : undefined;
    if (!command) throw new AppiaError('notFound', `command ${commandId} was not found on device ${deviceId}`);
    return command;
  }
}

type Body = {
  type: string;
  payload?: object | null;
  appServiceName?: string | null;
  packageFamilyName?: string | null;
  permissionTicket?: string | null;
  postBackUri?: string | null;
  expirationDateTime?: string | null;
};

/** Checks a create body against DESIGN 2 and turns it into the core's input. Nothing is stored on failure. */
export function commandInput(body: Body, now: number, config: AppConfig, allow: PostbackAllowList = NO_POSTBACK_ALLOW): CommandInput {
  const type = parseCommandType(body.type);
  if (!type) throw new AppiaError('badRequest', `type must be LaunchUri or AppService (got ${JSON.stringify(body.type)})`);
  const payload = body.payload ?? null;
  if (payload !== null && tooDeep(payload, config.maxJsonDepth - 1)) {
    throw new AppiaError('badRequest', `payload nests deeper than ${config.maxJsonDepth} levels`);
  }
  const payloadJson = payload === null ? null : JSON.stringify(payload);
  if (payloadJson !== null && config.maxPayloadBytes > 0 && Buffer.byteLength(payloadJson) > config.maxPayloadBytes) {
    throw new AppiaError('tooLarge', `payload is over its limit of ${config.maxPayloadBytes} bytes`);
  }
  let appServiceName = body.appServiceName ?? null;
  let packageFamilyName = body.packageFamilyName ?? null;
  if (type === 'LaunchUri') {
    const uri = (payload as Record<string, unknown> | null)?.['uri'];
    // DESIGN 4: checked first, since URL parsers drop tabs and line breaks and would call it absolute
    if (typeof uri === 'string' && hasControlCharacters(uri)) {
      throw new AppiaError('badRequest', 'payload.uri holds control characters (such as ESC, BEL or a line break): percent-encode them');
    }
    if (typeof uri !== 'string' || !isAbsoluteUri(uri)) throw new AppiaError('badRequest', 'payload.uri must be an absolute URI for a LaunchUri command');
    if (appServiceName !== null || packageFamilyName !== null) {
      throw new AppiaError('badRequest', 'appServiceName and packageFamilyName apply only to AppService commands');
    }
  } else {
    if (!appServiceName?.trim()) throw new AppiaError('badRequest', 'appServiceName is required for an AppService command');
    if (!packageFamilyName?.trim()) throw new AppiaError('badRequest', 'packageFamilyName is required for an AppService command');
    appServiceName = appServiceName.trim();
    packageFamilyName = packageFamilyName.trim();
  }
  const postBackUri = body.postBackUri ?? null;
  // DESIGN 6: https, no credentials, no loopback or private literal; the host's addresses are checked on create
  if (postBackUri !== null) checkPostbackUrl(postBackUri, allow);
  let expiresAt: number | undefined;
  if (body.expirationDateTime != null) {
    const text = body.expirationDateTime;
    expiresAt = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
    if (Number.isNaN(expiresAt)) throw new AppiaError('badRequest', `expirationDateTime must be an ISO 8601 date and time (got ${JSON.stringify(text)})`);
    if (expiresAt <= now) throw new AppiaError('badRequest', 'expirationDateTime must be in the future');
    if (expiresAt > now + MAX_TTL_MS) throw new AppiaError('badRequest', 'expirationDateTime may be at most 30 days ahead');
  }
  return {
    type,
    payloadJson,
    appServiceName,
    packageFamilyName,
    permissionTicket: body.permissionTicket ?? null,
    postBackUri,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

export function idempotencyKey(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw new AppiaError('badRequest', 'Idempotency-Key must be 1 to 255 characters');
  }
  return key;
}

/** `Prefer: wait=N` (N <= 60, DESIGN 2); undefined when not asked. */
export function preferWait(request: FastifyRequest): number | undefined {
  const prefer = request.headers['prefer'];
  if (typeof prefer !== 'string') return undefined;
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d+)"?/i.exec(prefer);
  if (!m) return undefined;
  return Math.min(Number(m[1]), MAX_WAIT_SECONDS);
}

