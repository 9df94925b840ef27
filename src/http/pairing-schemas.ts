import { Type } from 'typebox';
import { GraphError } from './response-schemas.js';

/** DESIGN 10: the bodies and answers of device pairing (RFC 8628's shapes, in the API's camelCase). */

export const PairingTokenBody = Type.Object({ pairingId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
export const PAIRING_TOKEN_KEYS = ['pairingId'] as const;

export const UserCodeBody = Type.Object({ userCode: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export const USER_CODE_KEYS = ['userCode'] as const;

export const StartedPairing = Type.Object(
  {
    pairingId: Type.String({ description: 'secret to the device: it polls POST /devices/pair/token with it' }),
    userCode: Type.String({ description: 'what the owner approves, XXXX-XXXX (case and dash do not matter)' }),
    verificationUri: Type.String({ format: 'uri', description: 'where the owner approves it (the console)' }),
    verificationUriComplete: Type.String({ format: 'uri', description: 'the same with the code filled in' }),
    expiresIn: Type.Integer({ description: 'seconds the code can be approved' }),
    interval: Type.Integer({ description: 'seconds to wait between polls' }),
  },
  { $id: 'StartedPairing', additionalProperties: false, description: 'a pending pairing (RFC 8628 3.2)' },
);

export const PairingToken = Type.Object(
  {
    deviceId: Type.String(),
    deviceToken: Type.String({ description: 'the token the device connects with; handed out this once' }),
  },
  { $id: 'PairingToken', additionalProperties: false, description: 'the paired device and its token' },
);

/** RFC 8628 3.5: a poll that gets no token yet (or never will) */
export const PairingPollError = Type.Object(
  {
    error: Type.Union([
      Type.Literal('authorization_pending'),
      Type.Literal('slow_down'),
      Type.Literal('expired_token'),
      Type.Literal('access_denied'),
      Type.Literal('invalid_grant'),
    ]),
    error_description: Type.String(),
    interval: Type.Optional(Type.Integer({ description: 'seconds to wait before the next poll' })),
  },
  { $id: 'PairingPollError', additionalProperties: false, description: 'no token (RFC 8628 3.5 error codes)' },
);

/** 400 is a poll's error, or Graph's for a malformed body */
export const PollAnswers = {
  200: PairingToken,
  400: Type.Union([PairingPollError, GraphError]),
  '4xx': GraphError,
  '5xx': GraphError,
};
