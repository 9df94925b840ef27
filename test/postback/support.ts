import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { PostbackLookup } from '../../src/postback/address-guard.js';

export interface ReceivedPostback {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface Receiver {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  readonly port: number;
  readonly received: ReceivedPostback[];
  /** TCP connections accepted, requests or not */
  connections: number;
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on 127.0.0.1 (COMMON: tests send only to loopback).
 * `respond` gets each request once its body has arrived.
 */
export async function startReceiver(respond: (res: ServerResponse, got: ReceivedPostback, req: IncomingMessage) => void): Promise<Receiver> {
  const received: ReceivedPostback[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const got = { method: req.method ?? '', path: req.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(got);
      respond(res, got, req);
    });
  });
  const receiver = {
    origin: '',
    port: 0,
    received,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => receiver.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.origin = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A DNS seam answering from a table, so no test asks real DNS about made-up
 * names. Each name may have a list of answers, used in turn (to play DNS
 * rebinding); unknown names fail with ENOTFOUND. `asked` counts lookups.
 */
export function fakeLookup(table: Record<string, string[] | string[][]>): PostbackLookup & { asked: string[] } {
  const turns = new Map<string, number>();
  const asked: string[] = [];
  const lookup = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const entry = table[hostname];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    const answers = (Array.isArray(entry[0]) ? entry : [entry]) as string[][];
    const turn = turns.get(hostname) ?? 0;
    turns.set(hostname, turn + 1);
    return answers[Math.min(turn, answers.length - 1)]!.map((address) => ({ address, family: isIP(address) }));
  };
  return Object.assign(lookup, { asked });
}
