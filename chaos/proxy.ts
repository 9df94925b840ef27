import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 whose every connection can be cut at once (a
 * reset, as a network fault looks to both ends). Each new connection goes to
 * the target `pick` names at that moment (in a cluster: a live node), so the
 * relay is also what moves devices to another node when one dies.
 * `pause()` refuses new connections too, until `resume()`.
 */
export class ChaosProxy {
  readonly #sockets = new Set<Socket>();
  readonly #pick: () => number | undefined;
  #server: Server | undefined;
  #port = 0;
  cuts = 0;

  private constructor(pick: () => number | undefined) {
    this.#pick = pick;
  }

  static async start(pick: () => number | undefined): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(pick);
    await proxy.resume();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async resume(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => this.#relay(client));
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.#port, '127.0.0.1', () => resolve());
        });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 50) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** resets every relayed connection; new ones are taken at once */
  cut(): void {
    this.cuts++;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
  }

  /** resets every connection and stops listening until `resume()` */
  async pause(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    this.cut();
    await closed;
  }

  close(): Promise<void> {
    return this.pause();
  }

  #relay(client: Socket): void {
    const port = this.#pick();
    if (port === undefined) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port });
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
