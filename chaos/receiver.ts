import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One postback the receiver answered 2xx. */
export interface Delivered {
  readonly sequence: number;
  readonly status: string;
}

/**
 * The postback receiver on 127.0.0.1 (DESIGN 6). Its mode is a fault the
 * harness turns on and off: `failing` answers 503, `slow` holds each request
 * for a while before answering 204. What it answered 2xx is kept per command,
 * in arrival order.
 */
export class ChaosReceiver {
  readonly delivered = new Map<string, Delivered[]>();
  mode: 'ok' | 'failing' | 'slow' = 'ok';
  arrivals = 0;
  refused = 0;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<ChaosReceiver> {
    let receiver!: ChaosReceiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        receiver.arrivals++;
        const mode = receiver.mode;
        if (mode === 'failing') {
          receiver.refused++;
          res.writeHead(503).end();
          return;
        }
        const answer = (): void => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; status: string; sequence: number };
          // recorded as the 2xx is written: a receiver acts on what it accepted
          let list = receiver.delivered.get(body.id);
          if (!list) receiver.delivered.set(body.id, (list = []));
          list.push({ sequence: body.sequence, status: body.status });
          res.writeHead(204).end();
        };
        if (mode === 'slow') setTimeout(answer, 1500 + Math.random() * 1500);
        else answer();
      });
    });
    receiver = new ChaosReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
