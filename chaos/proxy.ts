import { connect } from 'node:net';
import { TcpRelay } from '../test/support/tcp-relay.js';

/**
 * A TCP relay on 127.0.0.1 whose every connection can be cut at once (a
 * reset, as a network fault looks to both ends). Each new connection goes to
 * the target `pick` names at that moment (in a cluster: a live node), so the
 * relay is also what moves devices to another node when one dies.
 * `pause()` refuses new connections too, until `resume()`.
 */
export class ChaosProxy {
  readonly #relay: TcpRelay;
  cuts = 0;

  private constructor(pick: () => number | undefined) {
    this.#relay = new TcpRelay((client) => {
      const port = pick();
      if (port !== undefined) return connect({ host: '127.0.0.1', port });
      client.resetAndDestroy();
      return undefined;
    });
  }

  static async start(pick: () => number | undefined): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(pick);
    await proxy.resume();
    return proxy;
  }

  get port(): number {
    return this.#relay.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  resume(): Promise<void> {
    return this.#relay.listen();
  }

  /** resets every relayed connection; new ones are taken at once */
  cut(): void {
    this.cuts++;
    this.#relay.drop('reset');
  }

  /** resets every connection and stops listening until `resume()` */
  async pause(): Promise<void> {
    this.cuts++;
    await this.#relay.stop('reset');
  }

  close(): Promise<void> {
    return this.pause();
  }
}
