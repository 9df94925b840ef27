import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter, once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';

/** A frame the fake gateway received, with the connection it came on (1, 2, ...). */
export type Received = Record<string, any> & { readonly t: string; readonly connection: number };

/**
 * A scripted stand-in for the server's gateway, speaking DESIGN 4 over real
 * sockets, so the SDK's own rules (acks, re-sends, duplicates, 401) can be
 * checked frame by frame. End-to-end behaviour is tested against the real
 * server in sdk-e2e.test.ts.
 */
export class FakeGateway {
  readonly url: string;
  /** every frame received, in order */
  readonly frames: Received[] = [];
  /** upgrade requests seen, accepted or not */
  readonly upgrades: IncomingMessage[] = [];
  /** ack every report at once (else the test acks with ack()) */
  autoAck = true;
  /** answer upgrades with this HTTP status instead of accepting */
  refuseWith: number | undefined;
  /** frames sent right after a connection opens, like queued commands */
  greeting: object[] = [];
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #events = new EventEmitter();
  #socket: WebSocket | undefined;
  #connections = 0;

  private constructor(http: Server, wss: WebSocketServer) {
    this.#http = http;
    this.#wss = wss;
    this.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    http.on('upgrade', (request, socket, head) => {
      this.upgrades.push(request);
      this.#events.emit('upgrade');
      if (this.refuseWith !== undefined) {
        const body = JSON.stringify({ error: { code: 'InvalidAuthenticationToken', message: 'the device token is unknown or revoked' } });
        socket.end(`HTTP/1.1 ${this.refuseWith} Refused\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws));
    });
  }

  static async start(): Promise<FakeGateway> {
    const http = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('appia.v1') ? 'appia.v1' : false) });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    return new FakeGateway(http, wss);
  }

  get connections(): number {
    return this.#connections;
  }

  #accept(ws: WebSocket): void {
    const connection = ++this.#connections;
    this.#socket = ws;
    for (const frame of this.greeting) ws.send(JSON.stringify(frame));
    ws.on('message', (data) => {
      const frame = { ...JSON.parse(String(data)), connection } as Received;
      this.frames.push(frame);
      if (this.autoAck && typeof frame['ref'] === 'string' && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'ack', ref: frame['ref'] }));
      this.#events.emit('frame', frame);
    });
    this.#events.emit('connection', connection);
  }

  /** Resolves with the first frame (already received or to come) that matches. */
  frame(match: (frame: Received) => boolean, after = 0): Promise<Received> {
    const seen = this.frames.slice(after).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const listener = (frame: Received) => {
        if (!match(frame)) return;
        this.#events.off('frame', listener);
        resolve(frame);
      };
      this.#events.on('frame', listener);
    });
  }

  /** Resolves when connection number `n` is open. */
  connection(n: number): Promise<void> {
    if (this.#connections >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (count: number) => {
        if (count < n) return;
        this.#events.off('connection', listener);
        resolve();
      };
      this.#events.on('connection', listener);
    });
  }

  /** Resolves when `n` upgrade requests have arrived. */
  upgradeCount(n: number): Promise<void> {
    if (this.upgrades.length >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = () => {
        if (this.upgrades.length < n) return;
        this.#events.off('upgrade', listener);
        resolve();
      };
      this.#events.on('upgrade', listener);
    });
  }

  send(frame: object): void {
    this.#socket!.send(JSON.stringify(frame));
  }

  sendCommand(id: string, fields: Record<string, unknown> = {}): void {
    this.send({
      t: 'command',
      command: { id, type: 'AppService', payload: {}, appServiceName: 'echo', packageFamilyName: 'test.pkg', permissionTicket: null, expirationDateTime: null, ...fields },
    });
  }

  ack(ref: string): void {
    this.send({ t: 'ack', ref });
  }

  /** Drops the current connection without a closing handshake, as a network failure would. */
  async dropConnection(): Promise<void> {
    const socket = this.#socket!;
    const closed = once(socket, 'close');
    socket.terminate();
    await closed;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }
}
