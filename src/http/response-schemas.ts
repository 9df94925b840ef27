import { Type, type TSchema } from 'typebox';
import { COMMAND_TYPES } from '../domain/command.js';
import { DEVICE_STATUSES } from '../domain/device.js';
import { STATUSES } from '../domain/status.js';

/**
 * The answers' shapes (DESIGN 2), used by the routes as they are and named
 * in /openapi.json's components by their `$id`. They are exact: Fastify
 * serialises an object answer with fast-json-stringify from its schema,
 * which leaves out any property the schema does not list, so a new property
 * of an answer goes here first. Commands are written as JSON text
 * (representation.ts) and only documented by these.
 *
 * Routes hold the schemas themselves rather than `$ref`s to schemas added
 * with addSchema: fast-json-stringify then compiles each answer on its own,
 * about ten times faster than with every shared schema beside it, which
 * keeps a node's start (and every test's) quick.
 */

const nullable = (type: 'string' | 'object' | 'integer', options: object = {}) => Type.Unsafe<unknown>({ type: [type, 'null'], ...options });
const nullableText = (description: string) => nullable('string', { description });
const dateTime = (description: string) => Type.String({ format: 'date-time', description });
const odataContext = Type.String({ format: 'uri', description: 'the $metadata URL of this answer (GET /beta/$metadata)' });
const anyJsonObject = (description: string) => nullable('object', { additionalProperties: true, description });

const DEVICE_PROPERTIES = {
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  kind: nullableText('form factor: Desktop, Phone, Tablet, ...'),
  status: Type.Unsafe<string>({ type: 'string', enum: [...DEVICE_STATUSES] }),
  platform: nullableText('operating system'),
  model: nullableText('model name'),
  manufacturer: nullableText('maker'),
  lastSeenDateTime: nullable('string', { format: 'date-time', description: 'when the device was last connected' }),
};

export const Device = Type.Object(DEVICE_PROPERTIES, { $id: 'Device', additionalProperties: false, description: 'a device' });
export const DeviceEntity = Type.Object({ '@odata.context': odataContext, ...DEVICE_PROPERTIES }, { $id: 'DeviceEntity', additionalProperties: false, description: 'a device' });
export const RegisteredDevice = Type.Object(
  {
    '@odata.context': odataContext,
    ...DEVICE_PROPERTIES,
    deviceToken: Type.String({ description: 'the token the device connects with; shown only in this answer (Appia extension)' }),
  },
  { $id: 'RegisteredDevice', additionalProperties: false, description: 'the device registered, with its token' },
);
export const DeviceCollection = Type.Object(
  {
    '@odata.context': odataContext,
    value: Type.Array(Device),
    '@odata.nextLink': Type.Optional(Type.String({ format: 'uri', description: 'the next page, when there is one' })),
  },
  { $id: 'DeviceCollection', additionalProperties: false, description: "a page of the caller's devices" },
);

const COMMAND_PROPERTIES = {
  id: Type.String({ pattern: '^[0-9A-F]+$', description: 'opaque, time-ordered, upper-case hex' }),
  status: Type.Unsafe<string>({ type: 'string', enum: [...STATUSES] }),
  type: Type.Unsafe<string>({ type: 'string', enum: [...COMMAND_TYPES] }),
  appServiceName: nullableText('the app service (AppService commands)'),
  packageFamilyName: nullableText('the package of the app service (AppService commands)'),
  error: nullableText('why the command failed'),
  permissionTicket: nullableText('passed through to the device'),
  postBackUri: nullableText('where status changes are POSTed'),
  payload: anyJsonObject('LaunchUri: {"uri": "..."}; AppService: the app service\'s input'),
  responsePayload: anyJsonObject("the device's answer, null until it answers"),
  responsepayload: Type.Optional(anyJsonObject("with $expand=responsepayload: the device's answer (Graph's navigation property)")),
  customStatus: nullableText("the device's progress text while the status is custom (Appia extension)"),
  createdDateTime: dateTime('when the command was created'),
  lastModifiedDateTime: dateTime('when its status last changed'),
  expirationDateTime: dateTime('when it expires unless final by then'),
  batchId: Type.Optional(Type.String({ description: 'the command batch that made it (Appia extension, DESIGN 9)' })),
  deviceId: Type.Optional(Type.String({ format: 'uuid', description: 'the device a batch command is for (with batchId)' })),
};

export const Command = Type.Object(COMMAND_PROPERTIES, { $id: 'Command', additionalProperties: false, description: 'a command' });
export const CommandEntity = Type.Object({ '@odata.context': odataContext, ...COMMAND_PROPERTIES }, { $id: 'CommandEntity', additionalProperties: false, description: 'the command as it stands' });
export const CommandCollection = Type.Object(
  {
    '@odata.context': odataContext,
    value: Type.Array(Command),
    '@odata.nextLink': Type.Optional(Type.String({ format: 'uri', description: 'the next page, when there is one' })),
  },
  { $id: 'CommandCollection', additionalProperties: false, description: "a page of the device's commands, newest first" },
);
export const PayloadResponse = Type.Object(
  { '@odata.context': odataContext },
  { $id: 'PayloadResponse', additionalProperties: true, description: "the device's answer object, or {value} for an answer that is not an object" },
);
export const CommandHistory = Type.Object(
  {
    '@odata.context': odataContext,
    value: Type.Array(
      Type.Object(
        {
          status: Type.Unsafe<string>({ type: 'string', enum: [...STATUSES] }),
          dateTime: dateTime('when the change was stored'),
          detail: Type.Optional(Type.String({ description: 'why, when known' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'CommandHistory', additionalProperties: false, description: 'every status change, oldest first' },
);

const BATCH_PROPERTIES = {
  id: Type.String({ pattern: '^[0-9A-F]+$', description: 'opaque, time-ordered, upper-case hex' }),
  createdDateTime: dateTime('when the batch was made'),
  total: Type.Integer({ minimum: 0, description: 'commands it made, one per device' }),
  counts: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'how many of its commands are in each status now' }),
  done: Type.Boolean({ description: 'every command is final' }),
};
export const CommandBatch = Type.Object({ '@odata.context': Type.Optional(odataContext), ...BATCH_PROPERTIES }, { $id: 'CommandBatch', additionalProperties: false, description: 'a command batch (DESIGN 9)' });
export const CommandBatchCollection = Type.Object(
  {
    '@odata.context': odataContext,
    value: Type.Array(Type.Object(BATCH_PROPERTIES, { additionalProperties: false })),
    '@odata.nextLink': Type.Optional(Type.String({ format: 'uri', description: 'the next page, when there is one' })),
  },
  { $id: 'CommandBatchCollection', additionalProperties: false, description: "the caller's batches, newest first" },
);
export const QueuePurge = Type.Object({ canceled: Type.Integer({ minimum: 0, description: 'commands asked to cancel' }) }, { $id: 'QueuePurge', additionalProperties: false, description: 'a device queue purge (DESIGN 9)' });

export const GraphError = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'InvalidAuthenticationToken, Authorization_RequestDenied, itemNotFound, BadRequest, ...' }),
        message: Type.String(),
        innerError: Type.Object(
          { 'request-id': Type.String(), date: Type.String({ format: 'date-time' }) },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'GraphError', additionalProperties: false, description: "Graph's error envelope (DESIGN 2)" },
);

export const PostbackSecret = Type.Object(
  {
    secret: Type.String({ pattern: '^whsec_', description: 'the Standard Webhooks secret that signs postbacks' }),
    previousSecretValidUntil: Type.Optional(Type.String({ format: 'date-time', description: 'until when the secret before the last rotation still signs too' })),
  },
  { $id: 'PostbackSecret', additionalProperties: false, description: "the caller's postback signing secret (DESIGN 6)" },
);
export const PostbackDeliveries = Type.Object(
  {
    value: Type.Array(
      Type.Object(
        {
          sequence: Type.Integer({ minimum: 1 }),
          status: Type.Unsafe<string>({ type: 'string', enum: [...STATUSES], description: 'the status change this postback reports' }),
          webhookId: Type.String(),
          state: Type.Unsafe<string>({ type: 'string', enum: ['pending', 'delivered', 'failed'] }),
          attempts: Type.Integer({ minimum: 0 }),
          lastAttemptDateTime: nullable('string', { format: 'date-time' }),
          lastResponseStatus: nullable('integer', { description: "the receiver's HTTP status; null after a network error or timeout" }),
          lastError: nullableText('why the last attempt failed'),
          nextAttemptDateTime: nullable('string', { format: 'date-time', description: 'while pending' }),
          deliveredDateTime: nullable('string', { format: 'date-time' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'PostbackDeliveries', additionalProperties: false, description: "the command's postbacks, oldest first (DESIGN 6)" },
);

export const Health = Type.Object({ status: Type.String() }, { $id: 'Health', additionalProperties: false, description: 'alive, or ready' });
/** a document whose members are another specification's (OpenID discovery, JWKS, OpenAPI) */
export const OpenDocument = Type.Object({}, { $id: 'OpenDocument', additionalProperties: true, description: "a document of another specification's shape" });

/** the answers /openapi.json names in its components, by `$id` */
export const NAMED_ANSWERS: readonly TSchema[] = [
  Device,
  DeviceEntity,
  RegisteredDevice,
  DeviceCollection,
  Command,
  CommandEntity,
  CommandCollection,
  PayloadResponse,
  CommandHistory,
  PostbackSecret,
  PostbackDeliveries,
  CommandBatch,
  CommandBatchCollection,
  QueuePurge,
  GraphError,
  Health,
  OpenDocument,
];

/**
 * The answers of a route: its own success answers, and Graph's error shape for 4xx and 5xx.
 * Their static type is left open (`unknown`): several routes send JSON text they wrote
 * themselves (representation.ts), which Fastify passes through unserialised.
 *
 * @example
 * app.get('/me/devices/:deviceId', { schema: { params: DeviceParams, response: answers({ 200: DeviceEntity }) } }, handler);
 */
export function answers(success: Readonly<Record<number, TSchema>>): Record<string, TSchema> {
  const open = (schema: TSchema) => Type.Unsafe<unknown>(schema);
  return { ...Object.fromEntries(Object.entries(success).map(([code, schema]) => [code, open(schema)])), '4xx': open(GraphError), '5xx': open(GraphError) };
}

/** an answer that is not JSON: its media type and a text schema */
export function textAnswer(mediaType: string, description: string) {
  return { description, content: { [mediaType]: { schema: Type.String() } } };
}

/** 204: no body */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'no content' });

