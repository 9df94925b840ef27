import { connect } from 'node:net';
import { TcpRelay } from '../support/tcp-relay.js';

/**
 * A TCP relay on 127.0.0.1 in front of a loopback server: a store connected
 * through it sees a real outage when it is cut (every connection reset, new
 * ones refused) and a real recovery when it resumes on the same port, while
 * the server itself, which other test runs share, is left alone.
 */
export class TcpProxy {
  readonly #relay: TcpRelay;

  private constructor(target: { host: string; port: number }) {
    this.#relay = new TcpRelay(() => connect(target));
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.resume();
    return proxy;
  }

  get port(): number {
    return this.#relay.port;
  }

  /** `url` with its host and port replaced by the proxy's */
  url(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Listens again (on the same port after a cut). */
  resume(): Promise<void> {
    return this.#relay.listen();
  }

  /** The outage: stops listening and resets every relayed connection. */
  cut(): Promise<void> {
    return this.#relay.stop('reset');
  }

  close(): Promise<void> {
    return this.cut();
  }
}
