import type { StatusEvent } from './types.js';
import { statusEvents } from './event-stream.js';
import { UnreachableError, type ServerTarget } from './http-client.js';
import { isFinalStatus } from './outcomes.js';

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
    try {
      for await (const event of statusEvents(response.body)) {
        lastId = event.id;
        lastStatus = event.status;
        onEvent(event);
        if (isFinalStatus(event.status)) return event.status;
      }
    } catch {
      // The connection broke mid-stream: resume from the last event, as below.
    }
    // The stream ended before a final status (the server restarted): resume where it stopped.
    if (attempt >= MAX_RECONNECTS) throw new UnreachableError(`the event stream of command ${commandId} kept ending before it finished`);
    await delay(RECONNECT_DELAY_MS);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
