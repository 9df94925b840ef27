import { EventSourceParserStream, type EventSourceMessage } from 'eventsource-parser/stream';
import type { StatusEvent } from './types.js';

/** the most one event may buffer: far more than a status event's few hundred characters */
const MAX_EVENT_CHARS = 1 << 20;

/**
 * The messages of a `text/event-stream` body, parsed by eventsource-parser
 * (the WHATWG rules: `\r\n`, `\r` or `\n` end a line wherever the chunks
 * split, and only the one space after the colon is dropped).
 *
 * @example
 * for await (const message of eventStreamMessages(response.body)) console.log(message.event, message.data);
 */
export async function* eventStreamMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  // Unknown fields are ignored (as the spec says); an event that never ends stops at the buffer cap.
  const parser = new EventSourceParserStream({ maxBufferSize: MAX_EVENT_CHARS, onError: () => undefined });
  const text = body.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>);
  const messages = text.pipeThrough(parser);
  for await (const message of messages as unknown as AsyncIterable<EventSourceMessage>) yield message;
}

/**
 * The `event: status` events of a command's event stream (DESIGN 2; the
 * data is a JSON object, the SSE id the history id a reconnect resumes
 * from). An event without its own id keeps the last one, as in EventSource.
 *
 * @example
 * for await (const event of statusEvents(response.body)) console.log(event.id, event.status);
 */
export async function* statusEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StatusEvent> {
  let lastId = '';
  for await (const message of eventStreamMessages(body)) {
    if (message.id !== undefined) lastId = message.id;
    if (message.event !== 'status') continue;
    const data = JSON.parse(message.data) as Omit<StatusEvent, 'id'>;
    yield { ...data, id: lastId };
  }
}
