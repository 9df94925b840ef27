import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of a loopback server: a store connected
 * through it sees a real outage when it is cut (every connection reset, new
 * ones refused) and a real recovery when it resumes on the same port, while
 * the server itself, which other test runs share, is left alone.
 */
export class TcpProxy {
  readonly #target: { readonly host: string; readonly port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.resume();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** `url` with its host and port replaced by the proxy's */
  url(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.#port);
    return parsed.toString();
  }

  /** Listens again (on the same port after a cut). */
  async resume(): Promise<void> {
    const server = createServer((client) => this.#relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** The outage: stops listening and resets every relayed connection. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    await closed;
  }

  close(): Promise<void> {
    return this.cut();
  }

  #relay(client: Socket): void {
    const upstream = connect(this.#target);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#sockets.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.#sockets.delete(from);
        to.destroy();
      });
    }
  }
}
