import { tooDeep } from '../domain/json.js';
import { parseStrictJson } from '../domain/strict-json.js';

/**
 * DESIGN 4, the device protocol: JSON text frames, `t` is the frame type.
 * This file is the frame union and its codec; it does no I/O.
 */

/** The device's tag for a report, echoed in its `ack` / `nack`: a string or an integer. */
export type Ref = string | number;

/** device -> server (DESIGN 4). `completed` carries its answer as JSON text, ready to store. */
export type DeviceFrame =
  | { readonly t: 'received'; readonly ref: Ref; readonly id: string }
  | { readonly t: 'progress'; readonly ref: Ref; readonly id: string; readonly customStatus: string }
  | { readonly t: 'completed'; readonly ref: Ref; readonly id: string; readonly responsePayloadJson: string }
  | { readonly t: 'failed'; readonly ref: Ref; readonly id: string; readonly error: string }
  | { readonly t: 'dropped'; readonly ref: Ref; readonly id: string }
  | { readonly t: 'canceled'; readonly ref: Ref; readonly id: string }
  | { readonly t: 'state'; readonly ref: Ref; readonly state: 'active' | 'standby' };

export type FrameType = DeviceFrame['t'];

export type Decoded =
  | { readonly ok: true; readonly frame: DeviceFrame }
  /** `ref` is null when none could be read */
  | { readonly ok: false; readonly ref: Ref | null; readonly error: string };

export interface FrameLimits {
  /** `responsePayload` JSON text, in bytes (0 = no limit) */
  readonly maxPayloadBytes: number;
  /** `responsePayload` nesting (0 = no limit) */
  readonly maxJsonDepth: number;
  /** a whole frame, in bytes: the payload limit plus room for the other fields */
  readonly maxFrameBytes: number;
}

export const MAX_REF_LENGTH = 128;
export const MAX_CUSTOM_STATUS_LENGTH = 1024;
export const MAX_ERROR_LENGTH = 4096;
/** room a frame may take beyond its responsePayload (ref, id, error text, ...) */
export const FRAME_ENVELOPE_BYTES = 16 * 1024;
const MAX_ID_LENGTH = 128;

type Fields = Readonly<Record<string, unknown>>;
type Reader = (value: Fields, ref: Ref, limits: FrameLimits) => DeviceFrame | string;

/** One reader per frame type; a string result is the nack's error text. */
const READERS: { readonly [T in FrameType]: Reader } = {
  received: (v, ref) => withId(v, (id) => ({ t: 'received', ref, id })),
  dropped: (v, ref) => withId(v, (id) => ({ t: 'dropped', ref, id })),
  canceled: (v, ref) => withId(v, (id) => ({ t: 'canceled', ref, id })),
  progress: (v, ref) =>
    withId(v, (id) => {
      const customStatus = text(v['customStatus'], 'customStatus', MAX_CUSTOM_STATUS_LENGTH);
      return customStatus.ok ? { t: 'progress', ref, id, customStatus: customStatus.value } : customStatus.error;
    }),
  failed: (v, ref) =>
    withId(v, (id) => {
      const error = text(v['error'], 'error', MAX_ERROR_LENGTH);
      return error.ok ? { t: 'failed', ref, id, error: error.value } : error.error;
    }),
  completed: (v, ref, limits) =>
    withId(v, (id) => {
      const answer = v['responsePayload'];
      if (!isObject(answer)) return 'responsePayload must be a JSON object';
      if (tooDeep(answer, limits.maxJsonDepth)) return `responsePayload nests deeper than ${limits.maxJsonDepth} levels`;
      const responsePayloadJson = JSON.stringify(answer);
      if (limits.maxPayloadBytes > 0 && Buffer.byteLength(responsePayloadJson) > limits.maxPayloadBytes) {
        return `responsePayload is over its limit of ${limits.maxPayloadBytes} bytes`;
      }
      return { t: 'completed', ref, id, responsePayloadJson };
    }),
  state: (v, ref) => {
    const state = v['state'];
    return state === 'active' || state === 'standby' ? { t: 'state', ref, state } : 'state must be "active" or "standby"';
  },
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads one device frame. Never throws: anything unreadable comes back as
 * the error text of a `nack`, with the frame's `ref` when it could be read
 * (DESIGN 4: the connection stays open).
 */
export function decodeFrame(data: Buffer, isBinary: boolean, limits: FrameLimits): Decoded {
  if (isBinary) return refused(null, 'frames must be JSON text, not binary');
  let value: unknown;
  let text: string;
  try {
    text = utf8.decode(data);
    value = JSON.parse(text);
  } catch {
    return refused(null, 'the frame is not valid UTF-8 JSON');
  }
  if (!isObject(value)) return refused(null, 'a frame must be a JSON object');
  const ref = readRef(value['ref']);
  const t = value['t'];
  if (typeof t !== 'string' || !Object.hasOwn(READERS, t)) {
    return refused(typeof ref === 'string' ? null : ref.ref, `unknown frame type ${JSON.stringify(t ?? null)}`);
  }
  if (typeof ref === 'string') return refused(null, ref);
  // DESIGN 2, 4: what a report carries is stored exactly as sent, or refused naming where (JSON.parse
  // keeps 1e309 as null, the last of two equal keys, and lone surrogates that are stored as U+FFFD)
  try {
    parseStrictJson(text, { maxDepth: 0 });
  } catch (err) {
    return refused(ref.ref, err instanceof Error ? err.message : String(err));
  }
  const frame = READERS[t as FrameType](value, ref.ref, limits);
  if (typeof frame === 'string') return refused(ref.ref, frame);
  if (data.length > limits.maxFrameBytes) return refused(ref.ref, `the frame is over its limit of ${limits.maxFrameBytes} bytes`);
  return { ok: true, frame };
}

// ---- server -> device (DESIGN 4) ----

/** The command as the device sees it; the payload's JSON text is spliced in, never re-parsed. */
export interface CommandForDevice {
  readonly id: string;
  readonly type: string;
  readonly payloadJson: string | null;
  readonly appServiceName: string | null;
  readonly packageFamilyName: string | null;
  readonly permissionTicket: string | null;
  readonly expiresAt: number;
}

/** DESIGN 4: `{"t":"command","command":{...}}`, with `"resumed":true` when the record shows the device already had it. */
export function commandFrame(c: CommandForDevice, resumed = false): string {
  const head = JSON.stringify({ id: c.id, type: c.type });
  const tail = JSON.stringify({
    appServiceName: c.appServiceName,
    packageFamilyName: c.packageFamilyName,
    permissionTicket: c.permissionTicket,
    expirationDateTime: new Date(c.expiresAt).toISOString(),
  });
  return `{"t":"command","command":${head.slice(0, -1)},"payload":${c.payloadJson ?? 'null'},${tail.slice(1)}${resumed ? ',"resumed":true}' : '}'}`;
}

export function cancelFrame(commandId: string): string {
  return JSON.stringify({ t: 'cancel', id: commandId });
}

export function ackFrame(ref: Ref): string {
  return JSON.stringify({ t: 'ack', ref });
}

export function nackFrame(ref: Ref | null, error: string): string {
  return JSON.stringify({ t: 'nack', ref, error });
}

// ---- field readers ----

function refused(ref: Ref | null, error: string): Decoded {
  return { ok: false, ref, error };
}

function isObject(value: unknown): value is Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `{ref}` when usable, else the reason it is not */
function readRef(value: unknown): { ref: Ref } | string {
  if (value === undefined || value === null) return 'ref is missing';
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_REF_LENGTH) return { ref: value };
  if (typeof value === 'number' && Number.isSafeInteger(value)) return { ref: value };
  return `ref must be a string of 1 to ${MAX_REF_LENGTH} characters or an integer`;
}

function withId(value: Fields, read: (id: string) => DeviceFrame | string): DeviceFrame | string {
  const id = value['id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return 'id must be a command id (a string)';
  return read(id);
}

function text(value: unknown, name: string, max: number): { ok: true; value: string } | { ok: false; error: string } {
  if (typeof value !== 'string' || value.length === 0) return { ok: false, error: `${name} must be a non-empty string` };
  if (value.length > max) return { ok: false, error: `${name} is over its limit of ${max} characters` };
  return { ok: true, value };
}

/** Whether a decoded frame is a device's report on a command (every frame but `state`; a refused frame is none). */
export function isReport(decoded: Decoded): boolean {
  return decoded.ok && decoded.frame.t !== 'state';
}
