// Server-Sent Events over fetch(). The browser's EventSource cannot send an
// Authorization header, and a token in a query string ends up in logs, so
// the console reads the stream itself and parses it with eventsource-parser.
// On a drop it reconnects with Last-Event-ID, as EventSource would (DESIGN 2).

import { createParser } from 'eventsource-parser';
import { errorFrom } from './api.js';

const MAX_DELAY_MS = 30_000;

/**
 * Follows an SSE stream until `signal` aborts, the server says there is
 * nothing more (204), or the stream ends once `isDone()` is true. Resolves
 * then; rejects with an ApiError when the server refuses the request
 * (401, 403, 404, 400: reconnecting would not help).
 *
 * @param {string} path e.g. `/beta/me/events`
 * @param {{ token: string, signal: AbortSignal, onEvent: (data: object, id: string) => void,
 *           onState?: (state: 'open' | 'reconnecting') => void, isDone?: () => boolean }} options
 */
export async function followEvents(path, { token, signal, onEvent, onState = () => {}, isDone = () => false }) {
  let lastEventId;
  let retryMs = 2000;
  let failures = 0;
  while (!signal.aborted) {
    const headers = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    try {
      const response = await fetch(path, { headers, signal, cache: 'no-store' });
      if (response.status === 204) return;
      if (!response.ok) {
        const error = await errorFrom(response);
        if (response.status < 500 && response.status !== 429) throw error;
      } else {
        onState('open');
        failures = 0;
        const parser = createParser({
          onEvent(event) {
            if (event.id !== undefined) lastEventId = event.id;
            if (event.event === 'status') onEvent(JSON.parse(event.data), event.id);
          },
          onRetry(ms) {
            retryMs = ms;
          },
        });
        await read(response.body, (text) => parser.feed(text));
        if (isDone()) return;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err && err.name === 'ApiError') throw err;
      // a network failure or a dropped stream: try again below
    }
    if (signal.aborted) return;
    onState('reconnecting');
    failures += 1;
    await pause(Math.min(retryMs * 2 ** Math.max(0, failures - 1), MAX_DELAY_MS), signal);
  }
}

async function read(body, feed) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    feed(value);
  }
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
