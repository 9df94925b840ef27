import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AppiaError } from '../domain/errors.js';
import { parseBusMessage, type Bus, type BusMessage, type Subscription } from './bus.js';
import { parseNatsUrl } from './nats-url.js';

/** The few logger methods the bus uses (a pino or Fastify logger fits). */
export interface BusLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface NatsBusOptions {
  /** `nats://[user:pass@]host:port` (or `tls://`, or several, comma-separated) */
  readonly url: string;
  /** the client name NATS shows in its monitoring, e.g. the node's host name */
  readonly name?: string;
  readonly log?: BusLogger;
  /** how long `ready()` and a subscription's `ready` wait for NATS to answer (default 2000 ms) */
  readonly answerTimeoutMs?: number;
}

/** `reconnecting` from a lost connection until NATS has the subscriptions back; `closed` after `close()`. */
export type NatsBusState = 'connected' | 'reconnecting' | 'closed';

/**
 * Opens the bus that carries wake-ups between nodes (DESIGN 1, 7). Fails
 * with one line naming the URL (never its credentials) when NATS cannot be
 * reached at start; afterwards it reconnects forever on its own.
 *
 * @example
 * const bus = await openNatsBus({ url: config.natsUrl, name: hostname(), log: app.log });
 * // /readyz: await bus.ready() rejects while NATS is down
 */
export async function openNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const target = parseNatsUrl(options.url);
  // counted by the bus from nats.js's `reconnecting` statuses, one per dial
  const pacing = { attempts: 0 };
  let connection: NatsConnection;
  try {
    connection = await connect({
      servers: [...target.servers],
      ...(target.user !== undefined ? { user: target.user, pass: target.pass } : {}),
      ...(target.token !== undefined ? { token: target.token } : {}),
      ...(target.tls ? { tls: {} } : {}),
      ...(options.name ? { name: options.name } : {}),
      // fail at start (DESIGN 7: say so in one line), then never give up
      waitOnFirstConnect: false,
      maxReconnectAttempts: -1,
      ignoreAuthErrorAbort: true,
      reconnectDelayHandler: () => reconnectWait(pacing.attempts, Math.random),
      timeout: 5000,
      // a silently dead connection is found within about 30 s
      pingInterval: 10_000,
      maxPingOut: 3,
    });
  } catch (err) {
    throw new AppiaError('unavailable', `NATS is not reachable at ${target.shown} (${reasonOf(err)})`, { cause: err });
  }
  return new NatsBus(connection, target.shown, options, pacing);
}

/**
 * The wait before reconnect attempt `attempt` (0, 1, 2, ...): 250 ms, then
 * up to twice as long each time, capped at 2 s, at a random point in the
 * upper half so that nodes dropped together do not return in step.
 */
export function reconnectWait(attempt: number, random: () => number): number {
  const ceiling = Math.min(2000, 250 * 2 ** Math.min(attempt, 8));
  return Math.round(Math.max(250, ceiling / 2 + (random() * ceiling) / 2));
}

/** Subjects the bus carries are made by `subjects`: tokens of [A-Za-z0-9_-] only, so never a wildcard. */
const BUS_SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const decoder = new TextDecoder('utf-8', { fatal: true });
const RETRY_AFTER_S = 1;

/** The bus between nodes, over core NATS publish/subscribe (no JetStream: DESIGN 1 lets a message be lost). */
export class NatsBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #shown: string;
  readonly #log: BusLogger | undefined;
  readonly #answerTimeoutMs: number;
  readonly #pacing: { attempts: number };
  #state: NatsBusState = 'connected';
  /** counts connection losses, so a late answer from before a loss cannot mark the bus connected */
  #losses = 0;
  #invalid = 0;
  #closing: Promise<void> | undefined;
  readonly #waiters = new Set<{ state: NatsBusState; resolve: () => void; reject: (err: Error) => void }>();

  /** made by openNatsBus, which connects first */
  constructor(nc: NatsConnection, shown: string, options: NatsBusOptions, pacing: { attempts: number }) {
    this.#nc = nc;
    this.#shown = shown;
    this.#log = options.log;
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 2000;
    this.#pacing = pacing;
    void this.#watch();
    void nc.closed().then((err) => {
      if (this.#state !== 'closed') this.#log?.error({ server: shown, reason: reasonOf(err) }, 'NATS connection closed on its own');
      this.#setState('closed');
    });
  }

  get state(): NatsBusState {
    return this.#state;
  }

  /** how many received messages were dropped because they were not valid bus messages */
  get invalidMessages(): number {
    return this.#invalid;
  }

  /** Resolves when the bus is (or next becomes) in `state`; rejects if it closes first. */
  whenState(state: NatsBusState): Promise<void> {
    if (this.#state === state) return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(this.#unavailable());
    return new Promise((resolve, reject) => this.#waiters.add({ state, resolve, reject }));
  }

  publish(subject: string, message: BusMessage): void {
    if (this.#state === 'closed') return;
    if (!BUS_SUBJECT.test(subject)) {
      this.#log?.debug({ subject }, 'dropped a bus message for a subject not made by subjects');
      return;
    }
    try {
      // while disconnected nats.js buffers it until the next attempt, then drops it: DESIGN 1 allows that
      this.#nc.publish(subject, JSON.stringify(message));
    } catch (err) {
      this.#log?.debug({ subject, reason: reasonOf(err) }, 'dropped a bus message');
    }
  }

  subscribe(subject: string, handler: (message: BusMessage) => void): Subscription {
    if (!BUS_SUBJECT.test(subject)) return refused(new Error(`${JSON.stringify(subject.slice(0, 80))} is not a bus subject (use subjects.device or subjects.user)`));
    if (this.#state === 'closed') return refused(this.#unavailable());
    let active = true;
    let sub: ReturnType<NatsConnection['subscribe']>;
    try {
      sub = this.#nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err || !active) return;
          this.#deliver(subject, msg.data, handler);
        },
      });
    } catch (err) {
      return refused(this.#unavailable(err));
    }
    // the PONG to this PING means the server has the SUB sent before it
    const ready = this.#state === 'connected' ? this.#answered() : Promise.reject(this.#unavailable());
    ready.catch(() => {}); // a caller that never awaits `ready` must not crash the process
    return {
      ready,
      unsubscribe: () => {
        if (!active) return;
        active = false;
        try {
          sub.unsubscribe();
        } catch {
          // already closed with the connection
        }
      },
    };
  }

  async ready(): Promise<void> {
    if (this.#state !== 'connected') throw this.#unavailable();
    await this.#answered();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    const wasConnected = this.#state === 'connected';
    this.#setState('closed');
    if (this.#nc.isClosed()) return;
    try {
      // drain sends what is buffered; while disconnected there is nothing to wait for
      await (wasConnected ? this.#nc.drain() : this.#nc.close());
    } catch {
      await this.#nc.close();
    }
  }

  #deliver(subject: string, data: Uint8Array, handler: (message: BusMessage) => void): void {
    let message: BusMessage | undefined;
    try {
      message = parseBusMessage(JSON.parse(decoder.decode(data)));
    } catch {
      message = undefined;
    }
    if (!message) {
      // another client (or a newer node) sent what no node here understands: it reaches no one
      this.#invalid++;
      this.#log?.debug({ subject, bytes: data.length }, 'dropped an invalid bus message');
      return;
    }
    try {
      handler(message);
    } catch (err) {
      // a throw here would stop nats.js reading the socket, and every other subscriber with it
      this.#log?.error({ subject, err }, 'a bus subscriber threw');
    }
  }

  async #watch(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect') {
        this.#losses++;
        this.#setState('reconnecting');
        this.#log?.warn({ server: this.#shown }, 'NATS connection lost; reconnecting');
      } else if (status.type === 'reconnecting') {
        this.#pacing.attempts++;
      } else if (status.type === 'reconnect') {
        this.#pacing.attempts = 0;
        const loss = this.#losses;
        // nats.js has re-sent every subscription; connected once the server has them
        this.#nc.flush().then(
          () => {
            if (loss !== this.#losses || this.#state !== 'reconnecting') return;
            this.#setState('connected');
            this.#log?.info({ server: this.#shown }, 'NATS connection back');
          },
          () => {},
        );
      } else if (status.type === 'error') {
        this.#log?.warn({ server: this.#shown, reason: reasonOf(status.error) }, 'NATS reported an error');
      }
    }
  }

  #setState(state: NatsBusState): void {
    if (this.#state === 'closed') return;
    this.#state = state;
    for (const waiter of [...this.#waiters]) {
      if (waiter.state === state) waiter.resolve();
      else if (state === 'closed') waiter.reject(this.#unavailable());
      else continue;
      this.#waiters.delete(waiter);
    }
  }

  /** one round trip to the server, bounded so that `/readyz` answers even when NATS hangs */
  #answered(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppiaError('unavailable', `NATS at ${this.#shown} did not answer within ${this.#answerTimeoutMs} ms`, { retryAfter: RETRY_AFTER_S })),
        this.#answerTimeoutMs,
      );
    });
    const answer = this.#nc.flush().catch((err: unknown) => {
      throw this.#unavailable(err);
    });
    return Promise.race([answer, late]).finally(() => clearTimeout(timer));
  }

  #unavailable(cause?: unknown): AppiaError {
    const why =
      this.#state === 'closed'
        ? 'the NATS bus is closed'
        : this.#state === 'reconnecting'
          ? `NATS at ${this.#shown} is disconnected; reconnecting`
          : `NATS at ${this.#shown}: ${reasonOf(cause)}`;
    return new AppiaError('unavailable', why, { cause, retryAfter: RETRY_AFTER_S });
  }
}

function refused(reason: Error): Subscription {
  const ready = Promise.reject(reason);
  ready.catch(() => {});
  return { ready, unsubscribe: () => {} };
}

/** a short reason without stack or credentials: the socket's code, else the message's first line */
function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return err === undefined ? 'no reason given' : String(err);
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code ?? (err as NodeJS.ErrnoException).code;
  const message = err.message.split('\n')[0] ?? '';
  return code && !message.includes(code) ? `${message}: ${code}` : message;
}
