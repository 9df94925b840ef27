import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One postback as it arrived: the raw body (what a receiver verifies) and the parsed one. */
export interface Arrival {
  readonly headers: Record<string, string>;
  readonly rawBody: string;
  readonly body: { readonly id: string; readonly status: string; readonly sequence: number; readonly [key: string]: unknown };
  readonly webhookId: string;
  /** what the receiver answered (undefined while it holds the request, or never answers) */
  answered?: number;
}

/** How the receiver answers one postback; the number of earlier arrivals with the same webhook-id is `tries`. */
export type Answer = (res: ServerResponse, arrival: Arrival, tries: number) => void;

/**
 * A webhook receiver on 127.0.0.1 for the end-to-end postback stories
 * (COMMON: tests send only to loopback). It can stop listening and listen
 * again on the same port (a receiver that is down, then back), and lets a
 * story await what has arrived instead of sleeping.
 */
export class HookReceiver {
  readonly arrivals: Arrival[] = [];
  /** TCP connections accepted */
  connections = 0;
  answer: Answer = (res) => res.writeHead(204).end();
  readonly #events = new EventEmitter();
  #server: Server | undefined;
  #port = 0;

  static async start(answer?: Answer): Promise<HookReceiver> {
    const receiver = new HookReceiver();
    if (answer) receiver.answer = answer;
    await receiver.listen();
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  /** `http://127.0.0.1:<port><path>` */
  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.#port}${path}`;
  }

  /** listens (again) on its port, or on a free one the first time */
  async listen(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const server = createServer((req, res) => this.#receive(req, res));
      server.on('connection', () => this.connections++);
      server.listen(this.#port, '127.0.0.1');
      try {
        await once(server, 'listening');
      } catch (err) {
        // the port we gave up a moment ago may briefly serve as some connection's source port
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#port = (server.address() as AddressInfo).port;
      this.#server = server;
      return;
    }
  }

  /** stops accepting connections, so attempts meet "connection refused"; requests already here stay held */
  stopListening(): void {
    this.#server?.close();
    this.#server = undefined;
  }

  /** the arrivals that were answered 2xx, in order */
  delivered(): Arrival[] {
    return this.arrivals.filter((a) => a.answered !== undefined && a.answered >= 200 && a.answered < 300);
  }

  /** arrivals of one command, in order */
  of(commandId: string): Arrival[] {
    return this.arrivals.filter((a) => a.body.id === commandId);
  }

  /** resolves once `check` holds (checked now and after every arrival and answer), rejecting after `timeoutMs` */
  async until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#events.off('change', onChange);
        reject(new Error(`timed out waiting for ${what}; arrived: ${this.#describe()}`));
      }, timeoutMs);
      const onChange = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.#events.off('change', onChange);
        resolve();
      };
      this.#events.on('change', onChange);
    });
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #receive(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const webhookId = headers['webhook-id'] ?? '';
      const arrival: Arrival = { headers, rawBody, body: JSON.parse(rawBody) as Arrival['body'], webhookId };
      const tries = this.arrivals.filter((a) => a.webhookId === webhookId).length;
      this.arrivals.push(arrival);
      res.on('finish', () => {
        arrival.answered = res.statusCode;
        this.#events.emit('change');
      });
      this.#events.emit('change');
      this.answer(res, arrival, tries);
    });
  }

  #describe(): string {
    return JSON.stringify(this.arrivals.map((a) => [a.body.id?.slice(-6), a.body.sequence, a.body.status, a.answered ?? null]));
  }
}
