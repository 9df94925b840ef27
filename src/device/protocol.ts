/**
 * DESIGN 4, the device protocol, as the device sees it. This is the SDK's own
 * copy of the frame shapes: the SDK is a client library and never imports
 * server code.
 */

/** A command as the server hands it to the device (DESIGN 4, `{"t":"command"}`). */
export interface DeviceCommand {
  /** the command id (upper-case hex); the same id may be delivered again after a reconnect */
  readonly id: string;
  /** `LaunchUri` or `AppService` (other values are passed through as sent) */
  readonly type: string;
  /** LaunchUri: `{ uri }`; AppService: the caller's object; null when none */
  readonly payload: Record<string, unknown> | null;
  readonly appServiceName: string | null;
  readonly packageFamilyName: string | null;
  readonly permissionTicket: string | null;
  /** ISO 8601 UTC, or null when the server sent none */
  readonly expirationDateTime: string | null;
}

/** Frames the server sends. */
export type ServerFrame =
  /** `resumed`: the server's record shows the device already had it (DESIGN 4, reconnect) */
  | { readonly t: 'command'; readonly command: DeviceCommand; readonly resumed: boolean }
  | { readonly t: 'cancel'; readonly id: string }
  | { readonly t: 'ack'; readonly ref: string }
  | { readonly t: 'nack'; readonly ref: string | null; readonly error: string };

/** Reports about one command; each moves it along the lifecycle (DESIGN 3). */
export type CommandReport =
  | { readonly t: 'received'; readonly id: string }
  | { readonly t: 'progress'; readonly id: string; readonly customStatus: string }
  | { readonly t: 'completed'; readonly id: string; readonly responsePayload: Record<string, unknown> }
  | { readonly t: 'failed'; readonly id: string; readonly error: string }
  | { readonly t: 'dropped'; readonly id: string }
  | { readonly t: 'canceled'; readonly id: string };

/** The device's own state (Online / Standby). */
export interface StateReport {
  readonly t: 'state';
  readonly state: 'active' | 'standby';
}

/** Everything the device sends, before its `ref` is attached. */
export type Report = CommandReport | StateReport;

/** A report as it goes on the wire: with the device-chosen `ref` the server acks. */
export type DeviceFrame = Report & { readonly ref: string };

/** The reports that end a command: once one of them is recorded, nothing else can change it. */
export const FINAL_REPORTS = ['completed', 'failed', 'dropped', 'canceled'] as const;

export function isFinalReport(report: Report): report is Extract<CommandReport, { t: (typeof FINAL_REPORTS)[number] }> {
  return (FINAL_REPORTS as readonly string[]).includes(report.t);
}

/**
 * Reads one server frame. Returns an error text for anything that is not a
 * frame this SDK understands, so the caller can log it and carry on.
 */
export function parseServerFrame(text: string): ServerFrame | { readonly invalid: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (!isObject(value)) return { invalid: 'not a JSON object' };
  switch (value['t']) {
    case 'command': {
      const c = value['command'];
      if (!isObject(c) || typeof c['id'] !== 'string' || typeof c['type'] !== 'string') return { invalid: 'command frame without command.id and command.type' };
      const payload = c['payload'];
      return {
        t: 'command',
        command: {
          id: c['id'],
          type: c['type'],
          payload: isObject(payload) ? payload : null,
          appServiceName: stringOrNull(c['appServiceName']),
          packageFamilyName: stringOrNull(c['packageFamilyName']),
          permissionTicket: stringOrNull(c['permissionTicket']),
          expirationDateTime: stringOrNull(c['expirationDateTime']),
        },
        resumed: value['resumed'] === true,
      };
    }
    case 'cancel':
      return typeof value['id'] === 'string' ? { t: 'cancel', id: value['id'] } : { invalid: 'cancel frame without id' };
    case 'ack':
      return typeof value['ref'] === 'string' ? { t: 'ack', ref: value['ref'] } : { invalid: 'ack frame without ref' };
    case 'nack':
      return {
        t: 'nack',
        ref: typeof value['ref'] === 'string' ? value['ref'] : null,
        error: typeof value['error'] === 'string' ? value['error'] : 'refused by the server',
      };
    default:
      return { invalid: `unknown frame type ${JSON.stringify(value['t'])}` };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * Where the device connects (DESIGN 4: `GET /devices/connect`). Accepts the
 * server's base URL (`http://host:8080`, `https://...`) or a WebSocket URL;
 * a URL with no path gets `/devices/connect`.
 */
export function connectUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(server)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`the server URL must be http(s) or ws(s) (got ${url.protocol})`);
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/devices/connect';
  return url.toString();
}
