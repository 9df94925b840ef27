// A minimal HTTP/1.1 keep-alive client for the requester side of the Appia
// scenarios: prebuilt request bytes written straight to a pooled TCP socket,
// answers read by Content-Length. It does a small fraction of the work of
// node:http or fetch, so the figures are the server's and not the client's
// (the baselines' requesters are similarly thin). It only speaks what
// Fastify answers: Content-Length bodies, no chunked encoding, no pipelining.
import { connect, type Socket } from 'node:net';

export interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/**
 * The bytes of one request. Build them once per distinct request and reuse.
 *
 * @example
 * const bytes = httpRequest('POST', '/beta/me/devices', { host: '127.0.0.1:8080', authorization: `Bearer ${token}` }, { name: 'x' });
 */
export function httpRequest(method: string, path: string, headers: Readonly<Record<string, string>>, body?: unknown): Buffer {
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const lines = [`${method} ${path} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (payload !== undefined) {
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) lines.push('content-type: application/json');
    lines.push(`content-length: ${payload.length}`);
  }
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  return payload === undefined ? head : Buffer.concat([head, payload]);
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** One keep-alive connection: one request at a time. */
class HttpConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { resolve: (answer: HttpAnswer) => void; reject: (error: Error) => void; sentAt: number } | undefined;
  #headerEnd = -1;
  #status = 0;
  #length = -1;
  closed = false;

  constructor(host: string, port: number, readonly onClose: (connection: HttpConnection) => void) {
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('close', () => this.#fail(new Error('the server closed the connection')));
  }

  get sentAt(): number | undefined {
    return this.#pending?.sentAt;
  }

  request(bytes: Buffer): Promise<HttpAnswer> {
    if (this.#pending !== undefined) throw new Error('HttpConnection: one request at a time');
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, sentAt: performance.now() };
      this.#socket.write(bytes);
    });
  }

  destroy(error: Error): void {
    this.#fail(error);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (this.#headerEnd < 0) {
      const end = this.#buffer.indexOf(CRLFCRLF);
      if (end < 0) return;
      this.#headerEnd = end + 4;
      const head = this.#buffer.toString('latin1', 0, end);
      this.#status = Number(head.slice(9, 12));
      const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (match === null) return this.#fail(new Error(`an answer without Content-Length (HTTP ${this.#status})`));
      this.#length = Number(match[1]);
    }
    const total = this.#headerEnd + this.#length;
    if (this.#buffer.length < total) return;
    const body = this.#buffer.subarray(this.#headerEnd, total);
    this.#buffer = this.#buffer.length > total ? this.#buffer.subarray(total) : Buffer.alloc(0);
    this.#headerEnd = -1;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve({ status: this.#status, body });
  }

  #fail(error: Error): void {
    if (!this.closed) {
      this.closed = true;
      this.#socket.destroy();
      this.onClose(this);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }
}

/**
 * Up to `maxConnections` keep-alive connections; a request takes a free one
 * (or opens one), else waits its turn. Requests older than `timeoutMs` fail
 * (one sweep a second; their connection is dropped).
 */
export class HttpPool {
  readonly #free: HttpConnection[] = [];
  readonly #all = new Set<HttpConnection>();
  readonly #waiting: Array<(connection: HttpConnection) => void> = [];
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly maxConnections: number,
    readonly timeoutMs = 10_000,
  ) {
    this.#sweep = setInterval(() => {
      const oldest = performance.now() - this.timeoutMs;
      for (const connection of this.#all) {
        const sentAt = connection.sentAt;
        if (sentAt !== undefined && sentAt < oldest) connection.destroy(new Error(`no answer within ${this.timeoutMs} ms`));
      }
    }, 1000);
    this.#sweep.unref();
  }

  async request(bytes: Buffer): Promise<HttpAnswer> {
    const connection = this.#take() ?? (await new Promise<HttpConnection>((resolve) => this.#waiting.push(resolve)));
    try {
      return await connection.request(bytes);
    } finally {
      this.#release(connection);
    }
  }

  /** Sends `request(i)` for i in 0..count-1 with at most `concurrency` in flight; rejects on the first failure. */
  async forEach(count: number, concurrency: number, request: (i: number) => Promise<void>): Promise<void> {
    let next = 0;
    const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await request(next++);
    });
    await Promise.all(lanes);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const connection of [...this.#all]) connection.destroy(new Error('the pool was closed'));
  }

  #take(): HttpConnection | undefined {
    if (this.#closed) throw new Error('the pool was closed');
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#all.size >= this.maxConnections) return undefined;
    const connection = new HttpConnection(this.host, this.port, (c) => this.#dropped(c));
    this.#all.add(connection);
    return connection;
  }

  #release(connection: HttpConnection): void {
    if (connection.closed) return;
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(connection);
    else this.#free.push(connection);
  }

  #dropped(connection: HttpConnection): void {
    this.#all.delete(connection);
    const i = this.#free.indexOf(connection);
    if (i >= 0) this.#free.splice(i, 1);
    // a waiter gets a fresh connection in the dropped one's place
    if (!this.#closed && this.#waiting.length > 0 && this.#all.size < this.maxConnections) {
      const fresh = new HttpConnection(this.host, this.port, (c) => this.#dropped(c));
      this.#all.add(fresh);
      this.#waiting.shift()!(fresh);
    }
  }
}

/** Parses a JSON answer, throwing with the server's text when the status is not `expected`. */
export function expectJson(answer: HttpAnswer, expected: number, what: string): any {
  const text = answer.body.toString();
  if (answer.status !== expected) throw new Error(`${what}: HTTP ${answer.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}
