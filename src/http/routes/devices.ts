import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppiaError } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import { SCOPES, type AppConfig, type AppDeps } from '../context.js';
import { canonicalKeys } from '../input.js';
import { decodeSkipToken, graphUrl, encodeSkipToken, nextLink, parseDeviceStatusFilter, parseTop } from '../odata.js';
import { representation } from '../representation-context.js';
import { deviceJson } from '../representation.js';
import { DeviceParams, ListQuery, REGISTER_DEVICE_KEYS, RegisterDeviceBody } from '../schemas.js';
import { answers, DeviceCollection, DeviceEntity, NoContent, RegisteredDevice } from '../response-schemas.js';

/** DESIGN 2: the caller's devices. Another user's device is a 404, never a 403. */
export function deviceRoutes(deps: AppDeps, config: AppConfig): FastifyPluginAsyncTypebox {
  const { core } = deps;
  return async (app) => {
    app.get('/me/devices', { schema: { querystring: ListQuery, response: answers({ 200: DeviceCollection }) }, config: { scopes: SCOPES.read, query: ['$top', '$skiptoken', '$filter'] } }, async (request, reply) => {
      const limit = parseTop(request.query.$top);
      const status = parseDeviceStatusFilter(request.query.$filter);
      // a safe integer only: 1e300 or 2^63 would reach the database as a number it refuses
      const position = decodeSkipToken(request.query.$skiptoken, (v): v is { o: number } => Number.isSafeInteger(v['o']) && (v['o'] as number) >= 0);
      const offset = position?.o ?? 0;
      const rows = await core.listDevices(request.caller.userId, { limit: limit + 1, offset, ...(status ? { status } : {}) });
      const page = rows.slice(0, limit);
      const ctx = representation(request, config);
      return reply.type('application/json').send({
        '@odata.context': ctx.devices(),
        value: page.map(deviceJson),
        ...(rows.length > limit ? { '@odata.nextLink': nextLink(request, config.publicUrl, encodeSkipToken({ o: offset + limit })) } : {}),
      });
    });

    app.get('/me/devices/:deviceId', { schema: { params: DeviceParams, response: answers({ 200: DeviceEntity }) }, config: { scopes: SCOPES.read } }, async (request, reply) => {
      const device = await findDevice(request.caller.userId, request.params.deviceId);
      return reply.type('application/json').send({ '@odata.context': representation(request, config).device(), ...deviceJson(device) });
    });

    app.post(
      '/me/devices',
      {
        schema: { body: RegisterDeviceBody, response: answers({ 201: RegisteredDevice }) },
        config: { scopes: SCOPES.command },
        preValidation: async (request) => {
          request.body = canonicalKeys(request.body, REGISTER_DEVICE_KEYS) as typeof request.body;
        },
      },
      async (request, reply) => {
        const body = request.body;
        const { device, deviceToken: token } = await core.registerDevice(request.caller.userId, {
          name: body.name,
          kind: body.kind ?? null,
          platform: body.platform ?? null,
          model: body.model ?? null,
          manufacturer: body.manufacturer ?? null,
        });
        const location = graphUrl(request, config.publicUrl, `/me/devices/${device.id}`);
        return reply
          .code(201)
          .header('Location', location)
          .type('application/json')
          .send({ '@odata.context': representation(request, config).device(), ...deviceJson(device), deviceToken: token });
      },
    );

    app.delete('/me/devices/:deviceId', { schema: { params: DeviceParams, response: answers({ 204: NoContent }) }, config: { scopes: SCOPES.command } }, async (request, reply) => {
      const { deviceId } = request.params;
      if (!isUuid(deviceId) || !(await core.removeDevice(request.caller.userId, deviceId))) {
        throw new AppiaError('notFound', `device ${deviceId} was not found`);
      }
      return reply.code(204).send();
    });

    async function findDevice(userId: string, deviceId: string) {
      const device = isUuid(deviceId) ? await core.getDevice(userId, deviceId) : undefined;
      if (!device) throw new AppiaError('notFound', `device ${deviceId} was not found`);
      return device;
    }
  };
}
