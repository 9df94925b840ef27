import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';

/**
 * Where a relayed connection goes: the upstream socket for this client
 * (connected or still connecting), or undefined when there is none, the
 * route having ended the client itself (a reset or a close, as it means).
 */
export type Route = (client: Socket) => Socket | undefined | Promise<Socket | undefined>;

/**
 * A TCP relay on 127.0.0.1, what the tests' and the chaos run's loopback
 * relays are made of: each connection it takes is joined both ways to the
 * upstream its route opens, either end closing the other. It can stop
 * listening and listen again on the same port, and end every connection it
 * relays at once. The relays built on it say what that means for them (an
 * outage, a network fault, a balancer's shutdown).
 */
export class TcpRelay {
  readonly #route: Route;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  constructor(route: Route) {
    this.#route = route;
  }

  get port(): number {
    return this.#port;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Listens, on the same port as before after a stop (while the port is still held, for up to 5 s). */
  async listen(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => void this.#accept(client));
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

  /** Ends every relayed connection: with a reset, as a network fault looks to both ends, or a plain close. */
  drop(how: 'reset' | 'close'): void {
    for (const socket of this.#sockets) {
      if (how === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    }
    this.#sockets.clear();
  }

  /** Stops listening (new connections are refused) and ends every relayed connection. */
  async stop(how: 'reset' | 'close'): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    this.drop(how);
    await closed;
  }

  async #accept(client: Socket): Promise<void> {
    // held until its upstream is there: what it sends first waits in the socket
    client.pause();
    this.#track(client);
    client.on('error', () => client.destroy());
    const upstream = await this.#route(client);
    if (upstream === undefined) return;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    this.#track(upstream);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
    client.resume();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}
