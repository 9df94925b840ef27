import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { HistoryEntry } from '../../domain/command.js';
import { AppiaError } from '../../domain/errors.js';
import { isCommandId, isUuid } from '../../domain/ids.js';
import { isFinal } from '../../domain/policy.js';
import { SCOPES, type AppConfig, type AppDeps } from '../context.js';
import { isoTime } from '../representation.js';
import { CommandParams } from '../schemas.js';
import { answers, NoContent, textAnswer } from '../response-schemas.js';

const PAGE = 500;
/** how often a stream reads the store again without a wake-up */
const RECHECK_MS = 2000;
/** commands whose device id a /me/events stream remembers before it starts over */
const DEVICE_CACHE = 10_000;

export interface EventRoutesConfig extends AppConfig {
  /** how often an idle stream sends a comment, so proxies keep it open (default 15 s) */
  readonly sseHeartbeatMs?: number;
}

const EventsQuery = Type.Object({ lastEventId: Type.Optional(Type.String({ maxLength: 20 })) });
const STREAM = answers({ 200: textAnswer('text/event-stream', 'status events: id, event: status, data: {commandId, deviceId, batchId?, status, dateTime, sequence, detail?}'), 204: NoContent });

/**
 * DESIGN 2, live status: Server-Sent Events of status changes.
 *
 * - `GET .../commands/{cid}/events`: the command's history from its start (or
 *   after `Last-Event-ID`), then each change as it happens; the stream ends
 *   after a final status.
 * - `GET /me/events`: every change of the caller's commands from now (or
 *   after `Last-Event-ID`, to resume), until the client goes away.
 *
 * Each event is `id: <history id>`, `event: status` and `data:` a JSON object
 * `{commandId, deviceId, status, dateTime, sequence, detail?}`. Events are
 * always read from the store's history: the bus only says "look again", so
 * a stream never skips or repeats an event, even when a bus message is lost
 * or two arrive out of order. The stream subscribes before its first read,
 * so nothing that happens while it reads is missed.
 */
export function eventRoutes(deps: AppDeps, config: EventRoutesConfig): FastifyPluginAsyncTypebox {
  const { core } = deps;
  const heartbeatMs = config.sseHeartbeatMs ?? 15_000;
  const open = new Set<EventStream>();

  return async (app) => {
    // Open streams would hold the server open: end them before it closes.
    app.addHook('preClose', async () => {
      for (const stream of open) stream.end();
    });

    app.get(
      '/me/devices/:deviceId/commands/:commandId/events',
      { schema: { params: CommandParams, querystring: EventsQuery, response: STREAM }, config: { scopes: SCOPES.command } },
      async (request, reply) => {
        const { userId } = request.caller;
        const { deviceId } = request.params;
        const commandId = request.params.commandId.toUpperCase();
        const after = lastEventId(request.headers['last-event-id'], request.query.lastEventId);
        // DESIGN 8: a stream is a hold, taken before anything is watched
        const release = app.holds.take(userId);
        let batchId: string | null = null;
        const feed = new Feed(async (write) => {
          const history = await core.history(commandId);
          for (const entry of history) write(entry, { deviceId, batchId });
          return history.some((h) => isFinal(h.status)) ? 'done' : 'more';
        }, after ?? 0);
        const subscription = core.watchUser(userId, (m) => {
          if (m.commandId === commandId) feed.wake();
        });
        const unsubscribe = () => {
          subscription.unsubscribe();
          release();
        };
        let finished: boolean;
        try {
          await subscription.ready;
          const command = isUuid(deviceId) && isCommandId(commandId) ? await core.getCommand(userId, deviceId, commandId) : undefined;
          if (!command) throw new AppiaError('notFound', `command ${request.params.commandId} was not found on device ${deviceId}`);
          batchId = command.batchId;
          // Resuming after the final event: there is nothing more to say.
          const finalEntry = (await core.history(commandId)).find((h) => isFinal(h.status));
          finished = after !== undefined && finalEntry !== undefined && finalEntry.id <= after;
        } catch (err) {
          unsubscribe();
          throw err;
        }
        if (finished) {
          unsubscribe();
          return reply.code(204).send();
        }
        serve(request, reply, feed, unsubscribe);
      },
    );

    app.get('/me/events', { schema: { querystring: EventsQuery, response: STREAM }, config: { scopes: SCOPES.command } }, async (request, reply) => {
      const { userId } = request.caller;
      const after = lastEventId(request.headers['last-event-id'], request.query.lastEventId);
      const release = app.holds.take(userId);
      const placeOf = new Map<string, Place>();
      const feed = new Feed(async (write) => {
        for (;;) {
          const entries = await core.historySince(userId, feed.lastId, PAGE);
          for (const entry of entries) write(entry, await placeOfCommand(entry.commandId));
          if (entries.length < PAGE) return 'more';
        }
      }, after);
      async function placeOfCommand(commandId: string): Promise<Place | null> {
        let place = placeOf.get(commandId);
        if (place === undefined) {
          place = await core.placeOfCommand(commandId);
          if (place === undefined) return null;
          remember(commandId, place);
        }
        return place;
      }
      function remember(commandId: string, place: Place): void {
        if (placeOf.size >= DEVICE_CACHE) placeOf.clear();
        placeOf.set(commandId, place);
      }
      const subscription = core.watchUser(userId, (m) => {
        remember(m.commandId, { deviceId: m.deviceId, batchId: m.batchId ?? null });
        feed.wake();
      });
      const unsubscribe = () => {
        subscription.unsubscribe();
        release();
      };
      try {
        await subscription.ready;
        // Without Last-Event-ID the stream starts after the feed's head as it opens. (Not after the
        // first change announced: on a cluster, other nodes' announcements arrive out of id order.)
        if (after === undefined) feed.startAfter(await core.historyHead(userId));
      } catch (err) {
        unsubscribe();
        throw err;
      }
      serve(request, reply, feed, unsubscribe);
    });
  };

  /** Takes the response over from Fastify and streams the feed until either side ends it. */
  function serve(request: FastifyRequest, reply: FastifyReply, feed: Feed, unsubscribe: () => void): void {
    reply.hijack();
    // Read again now and then without a wake-up: a lost bus message only delays an event (DESIGN 1).
    const recheck = setInterval(() => feed.wake(), RECHECK_MS);
    const stream = new EventStream(reply.raw, heartbeatMs, () => {
      clearInterval(recheck);
      unsubscribe();
      open.delete(stream);
    });
    open.add(stream);
    reply.raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to
      'x-accel-buffering': 'no',
    });
    // a first comment sends the headers now; `retry` is how long a browser waits to reconnect
    reply.raw.write(': appia status events\nretry: 2000\n\n');
    feed.attach(stream, (err) => {
      request.log.warn({ err }, 'event stream failed; the client may resume with Last-Event-ID');
      stream.end();
    });
  }
}

/** where a command belongs: its device and (DESIGN 9) its batch */
type Place = { readonly deviceId: string; readonly batchId: string | null };

type Pump = (write: (entry: HistoryEntry, place: Place | null) => void) => Promise<'more' | 'done'>;

/**
 * Reads events from the store after `lastId` whenever it is woken, one read
 * at a time: wakes that come during a read cause one more read after it.
 */
class Feed {
  lastId: number;
  readonly #pump: Pump;
  #started: boolean;
  #stream: EventStream | undefined;
  #onError: (err: unknown) => void = () => {};
  #reading = false;
  #again = false;

  /** `after` undefined: not started until `startAfter` */
  constructor(pump: Pump, after: number | undefined) {
    this.#pump = pump;
    this.lastId = after ?? 0;
    this.#started = after !== undefined;
  }

  startAfter(historyId: number): void {
    this.#started = true;
    this.lastId = historyId;
  }

  attach(stream: EventStream, onError: (err: unknown) => void): void {
    this.#stream = stream;
    this.#onError = onError;
    this.wake();
  }

  wake(): void {
    if (!this.#stream || !this.#started) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = true;
    void this.#read();
  }

  async #read(): Promise<void> {
    const stream = this.#stream!;
    try {
      do {
        this.#again = false;
        const outcome = await this.#pump((entry, place) => {
          if (entry.id <= this.lastId || stream.ended) return;
          stream.event(entry, place);
          this.lastId = entry.id;
        });
        if (outcome === 'done') {
          stream.end();
          return;
        }
      } while (this.#again && !stream.ended);
    } catch (err) {
      this.#onError(err);
    } finally {
      this.#reading = false;
    }
  }
}

/** One open text/event-stream response. */
class EventStream {
  ended = false;
  readonly #res: ServerResponse;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onEnd: () => void;

  constructor(res: ServerResponse, heartbeatMs: number, onEnd: () => void) {
    this.#res = res;
    this.#onEnd = onEnd;
    this.#heartbeat = setInterval(() => this.#write(': keep-alive\n\n'), heartbeatMs);
    res.on('close', () => this.#closed());
  }

  event(entry: HistoryEntry, place: Place | null): void {
    const data = {
      commandId: entry.commandId,
      deviceId: place?.deviceId ?? null,
      ...(place?.batchId ? { batchId: place.batchId } : {}),
      status: entry.status,
      dateTime: isoTime(entry.at),
      sequence: entry.sequence,
      ...(entry.detail ? { detail: entry.detail } : {}),
    };
    this.#write(`id: ${entry.id}\nevent: status\ndata: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.#res.end();
    this.#closed();
  }

  #write(text: string): void {
    if (!this.ended) this.#res.write(text);
  }

  #closed(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.#heartbeat);
    this.#onEnd();
  }
}

/** SSE resume point: the `Last-Event-ID` header (browsers send it on reconnect) or `?lastEventId=`. */
function lastEventId(header: string | string[] | undefined, query: string | undefined): number | undefined {
  const raw = typeof header === 'string' && header.trim() !== '' ? header.trim() : query;
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new AppiaError('badRequest', `Last-Event-ID must be an event id from this stream (got ${JSON.stringify(raw)})`);
  return Number(raw);
}
