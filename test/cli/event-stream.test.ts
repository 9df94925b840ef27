import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventStreamMessages, statusEvents } from '../../src/cli/event-stream.js';

/**
 * `appia send --wait` reads the server's Server-Sent Events with
 * eventsource-parser. These feed it a stream cut exactly where the old
 * hand-written parser went wrong.
 */

function body(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const data = (status: string) => JSON.stringify({ commandId: 'C1', status, dateTime: '2026-01-01T00:00:00.000Z' });

describe('reading the command\'s event stream', () => {
  test('when a \\r\\n line ending is split across two chunks, it is one line end, not the end of an event', async () => {
    const events = await collect(statusEvents(body([`id: 41\r`, `\nevent: status\r\ndata: ${data('executing')}\r\n\r\n`])));
    assert.deepEqual(
      events.map((e) => [e.id, e.status]),
      [['41', 'executing']],
    );
  });

  test('when the chunk ends between the \\r and \\n that close an event, the next event is read whole', async () => {
    const stream = [`id: 1\r\nevent: status\r\ndata: ${data('executing')}\r\n\r`, `\nid: 2\r\nevent: status\r\ndata: ${data('completed')}\r\n\r\n`];
    const events = await collect(statusEvents(body(stream)));
    assert.deepEqual(
      events.map((e) => [e.id, e.status]),
      [
        ['1', 'executing'],
        ['2', 'completed'],
      ],
    );
  });

  test('only the one space after the colon is dropped: a value\'s own leading spaces are kept', async () => {
    const messages = await collect(eventStreamMessages(body(['id:  7\n', 'event: status\ndata:   indented\ndata:\tx\n\n'])));
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.id, ' 7');
    assert.equal(messages[0]!.data, '  indented\n\tx');
  });

  test('comments, heartbeats and other event types are skipped; an event without an id keeps the last one', async () => {
    const stream = [': appia status events\nretry: 2000\n\n', `id: 5\nevent: status\ndata: ${data('sentToTarget')}\n\n`, ': keep-alive\n\n', 'event: other\ndata: {}\n\n', `event: status\ndata: ${data('executing')}\n\n`];
    const events = await collect(statusEvents(body(stream)));
    assert.deepEqual(
      events.map((e) => [e.id, e.status]),
      [
        ['5', 'sentToTarget'],
        ['5', 'executing'],
      ],
    );
  });
});
