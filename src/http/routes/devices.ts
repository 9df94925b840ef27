import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppiaError } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import { newDeviceId } from '../../service/engine.js';
import { hashDeviceToken, newDeviceToken } from '../../service/device-tokens.js';
import { requireScope, type AppConfig, type AppDeps } from '../app.js';
import { canonicalKeys } from '../input.js';
import { baseUrl, decodeSkipToken, encodeSkipToken, nextLink, parseTop } from '../odata.js';
import { representation } from '../representation-context.js';
import { deviceJson } from '../representation.js';
import { DeviceParams, ListQuery, REGISTER_DEVICE_KEYS, RegisterDeviceBody } from '../schemas.js';

const READ = ['Device.Read', 'Device.Command'] as const;
const COMMAND = ['Device.Command'] as const;

/** DESIGN 2: the caller's devices. Another user's device is a 404, never a 403. */
export function deviceRoutes(deps: AppDeps, config: AppConfig): FastifyPluginAsyncTypebox {
  const { store } = deps.engine;
  return async (app) => {
    app.get('/me/devices', { schema: { querystring: ListQuery } }, async (request, reply) => {
      requireScope(request.principal, READ);
      const limit = parseTop(request.query.$top);
      const position = decodeSkipToken(request.query.$skiptoken, (v): v is { o: number } => Number.isInteger(v['o']) && (v['o'] as number) >= 0);
      const offset = position?.o ?? 0;
      const rows = await store.listDevices(request.principal.userId, { limit: limit + 1, offset });
      const page = rows.slice(0, limit);
      const ctx = representation(request, config);
      return reply.type('application/json').send({
        '@odata.context': ctx.devices(),
        value: page.map(deviceJson),
        ...(rows.length > limit ? { '@odata.nextLink': nextLink(request, config.publicUrl, encodeSkipToken({ o: offset + limit })) } : {}),
      });
    });

    app.get('/me/devices/:deviceId', { schema: { params: DeviceParams } }, async (request, reply) => {
      requireScope(request.principal, READ);
      const device = await findDevice(request.principal.userId, request.params.deviceId);
      return reply.type('application/json').send({ '@odata.context': representation(request, config).device(), ...deviceJson(device) });
    });

    app.post(
      '/me/devices',
      {
        schema: { body: RegisterDeviceBody },
        preValidation: async (request) => {
          request.body = canonicalKeys(request.body, REGISTER_DEVICE_KEYS) as typeof request.body;
        },
      },
      async (request, reply) => {
        requireScope(request.principal, COMMAND);
        const body = request.body;
        const token = newDeviceToken();
        const device = await store.createDevice({
          id: newDeviceId(),
          userId: request.principal.userId,
          name: body.name,
          kind: body.kind ?? null,
          platform: body.platform ?? null,
          model: body.model ?? null,
          manufacturer: body.manufacturer ?? null,
          tokenHash: hashDeviceToken(token),
          createdAt: deps.engine.now(),
        });
        const location = `${baseUrl(request, config.publicUrl)}${request.url.split('?')[0]}/${device.id}`;
        return reply
          .code(201)
          .header('Location', location)
          .type('application/json')
          .send({ '@odata.context': representation(request, config).device(), ...deviceJson(device), deviceToken: token });
      },
    );

    app.delete('/me/devices/:deviceId', { schema: { params: DeviceParams } }, async (request, reply) => {
      requireScope(request.principal, COMMAND);
      const { deviceId } = request.params;
      if (!isUuid(deviceId) || !(await deps.engine.removeDevice(request.principal.userId, deviceId))) {
        throw new AppiaError('notFound', `device ${deviceId} was not found`);
      }
      return reply.code(204).send();
    });

    async function findDevice(userId: string, deviceId: string) {
      const device = isUuid(deviceId) ? await store.getDevice(userId, deviceId) : undefined;
      if (!device) throw new AppiaError('notFound', `device ${deviceId} was not found`);
      return device;
    }
  };
}
