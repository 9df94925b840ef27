import { isFinal } from '../domain/policy.js';
import { parseStatus } from '../domain/status.js';
import type { CommandJson } from './types.js';
import { UnreachableError, type ApiClient, type ServerTarget } from './http-client.js';
import { compactJson, fields, printJson, withoutAnnotations } from './output.js';

/** One status change, as the server's event stream says it (DESIGN 2, live status). */
export interface StatusEvent {
  /** the event id: where a reconnect resumes */
  readonly id: string;
  readonly commandId: string;
  readonly status: string;
  readonly dateTime: string;
  readonly detail?: string;
}

/** how often a dropped stream is opened again (with Last-Event-ID) before giving up */
const MAX_RECONNECTS = 5;
const RECONNECT_DELAY_MS = 1000;

/**
 * Follows a command's status changes as they happen, over its Server-Sent
 * Events stream (`GET .../commands/{id}/events`), calling `onEvent` for each
 * (its history first, so nothing before the stream opened is missed), until
 * the command reaches a final status. A dropped stream is resumed from the
 * last event seen (`Last-Event-ID`). Resolves with the final status.
 *
 * @example
 * const final = await followCommand(target, deviceId, commandId, (e) => console.log(e.status));
 */
export async function followCommand(
  target: ServerTarget,
  deviceId: string,
  commandId: string,
  onEvent: (event: StatusEvent) => void,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const url = `${target.server}/beta/me/devices/${encodeURIComponent(deviceId)}/commands/${encodeURIComponent(commandId)}/events`;
  let lastId: string | undefined;
  let lastStatus: string | undefined;
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetchImpl(url, {
        headers: { authorization: `Bearer ${target.token}`, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
      });
    } catch (err) {
      if (attempt < MAX_RECONNECTS) {
        await delay(RECONNECT_DELAY_MS);
        continue;
      }
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new UnreachableError(`lost the Appia server at ${target.server} while waiting (${cause})`);
    }
    // 204: resumed after the final event, nothing more to say
    if (response.status === 204 && lastStatus) return lastStatus;
    if (!response.ok || !response.body) {
      throw new UnreachableError(`the server refused the command's event stream: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    }
    for await (const event of parseEventStream(response.body)) {
      lastId = event.id;
      lastStatus = event.status;
      onEvent(event);
      if (isFinalName(event.status)) return event.status;
    }
    // The stream ended before a final status (the server restarted): resume where it stopped.
    if (attempt >= MAX_RECONNECTS) throw new UnreachableError(`the event stream of command ${commandId} kept ending before it finished`);
    await delay(RECONNECT_DELAY_MS);
  }
}

/** The `event: status` events of a text/event-stream body. */
async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<StatusEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id = '';
      let type = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id:')) id = line.slice(3).trim();
        else if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (type !== 'status' || data.length === 0) continue;
      const parsed = JSON.parse(data.join('\n')) as Omit<StatusEvent, 'id'>;
      yield { ...parsed, id };
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `appia send --wait`: prints each status change as it happens (or, with
 * `--json`, nothing until the end), then the final command with its error or
 * response payload. Exit code 0 when it completed, 1 for any other ending.
 */
export async function waitAndReport(
  target: ServerTarget,
  client: ApiClient,
  device: { readonly id: string; readonly name: string | null },
  created: CommandJson,
  json: boolean,
): Promise<number> {
  if (!json) {
    console.log(`Command ${created.id} sent to ${device.name ?? device.id}; waiting for it to finish (Ctrl-C stops waiting, not the command):`);
  }
  const final = await followCommand(target, device.id, created.id, (event) => {
    if (!json) console.log(`  ${event.dateTime.slice(11, 23)}  ${event.status}${event.detail ? `  ${event.detail}` : ''}`);
  });
  const command = withoutAnnotations(await client.get<CommandJson>(`/me/devices/${encodeURIComponent(device.id)}/commands/${encodeURIComponent(created.id)}`));
  if (json) {
    printJson(command);
  } else {
    const label = 'Response payload';
    console.log(
      '\n' +
        fields([
          ['Status', command.status],
          ...(command.error ? [['Error', command.error] as const] : []),
          [label, command.responsePayload == null ? null : compactJson(command.responsePayload, ' '.repeat(label.length + 2))],
        ]),
    );
  }
  return final === 'completed' ? 0 : 1;
}

function isFinalName(name: string): boolean {
  const status = parseStatus(name);
  return status !== undefined && isFinal(status);
}
