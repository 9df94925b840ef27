import { Type } from 'typebox';

/** Route schemas (TypeBox). Bodies are first rewritten to canonical property names (input.ts). */

const nullableString = (maxLength: number) => Type.Optional(Type.Union([Type.String({ maxLength }), Type.Null()]));

export const DeviceParams = Type.Object({ deviceId: Type.String({ maxLength: 128 }) });
export const CommandParams = Type.Object({ deviceId: Type.String({ maxLength: 128 }), commandId: Type.String({ maxLength: 128 }) });

export const RegisterDeviceBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    kind: nullableString(64),
    platform: nullableString(64),
    model: nullableString(256),
    manufacturer: nullableString(256),
  },
  { additionalProperties: false },
);
export const REGISTER_DEVICE_KEYS = ['name', 'kind', 'platform', 'model', 'manufacturer'] as const;

export const CreateCommandBody = Type.Object(
  {
    type: Type.String({ maxLength: 64 }),
    payload: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
    appServiceName: nullableString(256),
    packageFamilyName: nullableString(256),
    permissionTicket: nullableString(8192),
    postBackUri: nullableString(2048),
    expirationDateTime: nullableString(64),
  },
  { additionalProperties: false },
);
export const CREATE_COMMAND_KEYS = [
  'type',
  'payload',
  'appServiceName',
  'packageFamilyName',
  'permissionTicket',
  'postBackUri',
  'expirationDateTime',
] as const;

/** DESIGN 9: the devices a batch goes to, and the command each gets (as in a create) */
export const CreateBatchBody = Type.Object(
  {
    ...CreateCommandBody.properties,
    deviceIds: Type.Optional(Type.Array(Type.String({ maxLength: 128 }))),
    all: Type.Optional(Type.Boolean()),
    kind: nullableString(64),
  },
  { additionalProperties: false },
);
export const CREATE_BATCH_KEYS = [...CREATE_COMMAND_KEYS, 'deviceIds', 'all', 'kind'] as const;
export const BatchParams = Type.Object({ batchId: Type.String({ maxLength: 128 }) });

/** OData query options: strings here, checked and converted in odata.ts. */
export const ListQuery = Type.Object({
  $top: Type.Optional(Type.String({ maxLength: 16 })),
  $skiptoken: Type.Optional(Type.String({ maxLength: 512 })),
  $filter: Type.Optional(Type.String({ maxLength: 256 })),
  $expand: Type.Optional(Type.String({ maxLength: 256 })),
});
/** GET of one command: `$expand=responsepayload` (DESIGN 2) */
export const ExpandQuery = Type.Object({ $expand: Type.Optional(Type.String({ maxLength: 256 })) });
