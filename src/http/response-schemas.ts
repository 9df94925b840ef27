import { Type, type TSchema } from 'typebox';
import { COMMAND_TYPES } from '../domain/command.js';
import { DEVICE_STATUSES } from '../domain/device.js';
import { STATUSES } from '../domain/status.js';

/**
 * The answers' shapes (DESIGN 2), shared by every route and named in
 * /openapi.json's components by their `$id`. They are exact: Fastify
 * serialises an object answer with fast-json-stringify from its schema,
 * which leaves out any property the schema does not list, so a new property
 * of an answer goes here first. Commands are written as JSON text
 * (representation.ts) and only documented by these.
 */

const nullable = (type: 'string' | 'object', options: object = {}) => Type.Unsafe<unknown>({ type: [type, 'null'], ...options });
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

export const Device = Type.Object(DEVICE_PROPERTIES, { $id: 'Device', additionalProperties: false });
export const DeviceEntity = Type.Object({ '@odata.context': odataContext, ...DEVICE_PROPERTIES }, { $id: 'DeviceEntity', additionalProperties: false });
export const RegisteredDevice = Type.Object(
  {
    '@odata.context': odataContext,
    ...DEVICE_PROPERTIES,
    deviceToken: Type.String({ description: 'the token the device connects with; shown only in this answer (Appia extension)' }),
  },
  { $id: 'RegisteredDevice', additionalProperties: false },
);
export const DeviceCollection = Type.Object(
  {
    '@odata.context': odataContext,
    value: Type.Array(Type.Ref('Device')),
    '@odata.nextLink': Type.Optional(Type.String({ format: 'uri', description: 'the next page, when there is one' })),
  },
  { $id: 'DeviceCollection', additionalProperties: false },
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
};

export const Command = Type.Object(COMMAND_PROPERTIES, { $id: 'Command', additionalProperties: false });
export const CommandEntity = Type.Object({ '@odata.context': odataContext, ...COMMAND_PROPERTIES }, { $id: 'CommandEntity', additionalProperties: false });
export const CommandCollection = Type.Object(
  {
    '@odata.context': odataContext,
    value: Type.Array(Type.Ref('Command')),
    '@odata.nextLink': Type.Optional(Type.String({ format: 'uri', description: 'the next page, when there is one' })),
  },
  { $id: 'CommandCollection', additionalProperties: false },
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
  { $id: 'CommandHistory', additionalProperties: false },
);

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

export const Health = Type.Object({ status: Type.String() }, { $id: 'Health', additionalProperties: false });
/** a document whose members are another specification's (OpenID discovery, JWKS, OpenAPI) */
export const OpenDocument = Type.Object({}, { $id: 'OpenDocument', additionalProperties: true });

/** every shared schema, added to the app once so routes can name them (`Type.Ref('Command')`) */
export const SHARED_SCHEMAS: readonly TSchema[] = [
  Device,
  DeviceEntity,
  RegisteredDevice,
  DeviceCollection,
  Command,
  CommandEntity,
  CommandCollection,
  PayloadResponse,
  CommandHistory,
  GraphError,
  Health,
  OpenDocument,
];

/** the answers of a route: its own success answers, and Graph's error shape for 4xx and 5xx */
export function answers<T extends Record<number, TSchema>>(success: T) {
  return { ...success, '4xx': Type.Ref('GraphError'), '5xx': Type.Ref('GraphError') };
}

/** an answer that is not JSON: its media type and a text schema */
export function textAnswer(mediaType: string, description: string) {
  return { description, content: { [mediaType]: { schema: Type.String() } } };
}

/** 204: no body */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'no content' });

export const ref = (id: 'Device' | 'DeviceEntity' | 'RegisteredDevice' | 'DeviceCollection' | 'Command' | 'CommandEntity' | 'CommandCollection' | 'PayloadResponse' | 'CommandHistory' | 'Health' | 'OpenDocument') =>
  Type.Ref(id);
