import { isBatchDone, type BatchRecord } from '../domain/batch.js';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import type { DeviceRecord } from '../domain/device.js';

/**
 * The Graph wire forms of Appia's records. Commands are written as JSON text
 * directly, splicing in the stored payload texts, so a command is never
 * parsed and re-serialised on its way out.
 */

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

const q = JSON.stringify;

/**
 * A command's properties, without braces, for splicing into an entity or a
 * collection. `expand`: `$expand=responsepayload` (DESIGN 2), the device's
 * answer again under Graph's beta navigation name, which Kiota clients read.
 */
function commandProperties(c: CommandRecord, expand = false): string {
  return (
    `"id":${q(c.id)},"status":${q(c.status)},"type":${q(c.type)},` +
    `"appServiceName":${q(c.appServiceName)},"packageFamilyName":${q(c.packageFamilyName)},` +
    `"error":${q(c.error)},"permissionTicket":${q(c.permissionTicket)},"postBackUri":${q(c.postBackUri)},` +
    `"payload":${c.payloadJson ?? 'null'},"responsePayload":${c.responsePayloadJson ?? 'null'},` +
    `"customStatus":${q(c.customStatus)},"createdDateTime":"${isoTime(c.createdAt)}",` +
    `"lastModifiedDateTime":"${isoTime(c.lastModifiedAt)}","expirationDateTime":"${isoTime(c.expiresAt)}"` +
    // DESIGN 9: a batch's commands say which device each is for (a record stored before batches has no batchId at all)
    (c.batchId == null ? '' : `,"batchId":${q(c.batchId)},"deviceId":${q(c.deviceId)}`) +
    (expand ? `,"responsepayload":${c.responsePayloadJson ?? 'null'}` : '')
  );
}

/** A command as a bare JSON object, without `@odata.context`, with `extra` properties after its own (a postback's `sequence`, DESIGN 6). */
export function commandJson(c: CommandRecord, extra: Readonly<Record<string, string | number>> = {}): string {
  let more = '';
  for (const [key, value] of Object.entries(extra)) more += `,${q(key)}:${q(value)}`;
  return `{${commandProperties(c)}${more}}`;
}

export function commandEntityJson(c: CommandRecord, context: string, expand = false): string {
  return `{"@odata.context":${q(context)},${commandProperties(c, expand)}}`;
}

export function commandCollectionJson(commands: readonly CommandRecord[], context: string, nextLink: string | undefined, expand = false): string {
  const items = commands.map((c) => `{${commandProperties(c, expand)}}`).join(',');
  return `{"@odata.context":${q(context)},"value":[${items}]${nextLink ? `,"@odata.nextLink":${q(nextLink)}` : ''}}`;
}

/** DESIGN 2: the device's answer as Graph's PayloadResponse entity. */
export function responsePayloadJson(raw: string, context: string): string {
  const body = raw.trim();
  if (body.startsWith('{')) {
    const inner = body.slice(1).trimStart();
    return `{"@odata.context":${q(context)}${inner.startsWith('}') ? '' : ','}${inner}`;
  }
  return `{"@odata.context":${q(context)},"value":${body}}`;
}

export function deviceJson(d: DeviceRecord): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    kind: d.kind,
    status: d.status,
    platform: d.platform,
    model: d.model,
    manufacturer: d.manufacturer,
    lastSeenDateTime: d.lastSeenAt === null ? null : isoTime(d.lastSeenAt),
  };
}

/** DESIGN 9: a batch, with its live counts */
export function batchJson(b: BatchRecord): Record<string, unknown> {
  return { id: b.id, createdDateTime: isoTime(b.createdAt), total: b.total, counts: b.counts, done: isBatchDone(b) };
}

export function historyJson(h: HistoryEntry): Record<string, unknown> {
  return { status: h.status, dateTime: isoTime(h.at), ...(h.detail ? { detail: h.detail } : {}) };
}
