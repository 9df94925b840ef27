// Baseline: a bare WebSocket relay (`ws`, nothing stored). Requesters and
// responders connect to one relay process, which forwards each request to the
// responder it names and the reply back: the cost of relaying with nothing
// durable, which Appia's store and lifecycle add to. Every side batches its
// writes per event-loop turn (as nats.js does), so the figure is the relay's
// cost rather than one syscall per message.
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { loopback } from '../lib/ports.js';
import { measureRequestReply, PendingReplies, spread } from '../lib/request-reply.js';
import type { RunningRole } from '../lib/role.js';
import type { Scenario } from '../lib/scenario.js';
import { replyBody, requestBody, shape } from '../lib/shape.js';

/** requester -> relay */
type RequestFrame = { id: number; to: number; payload: unknown };
/** relay -> responder, and the responder's answer */
type ForwardFrame = { id: number; payload: unknown };
type AnswerFrame = { id: number; result: unknown };
/** relay -> requester */
type ReplyFrame = { id: number; result?: unknown; error?: string };

export const wsRelay: Scenario = {
  name: 'ws-relay',
  title: 'bare WebSocket relay (ws, no storage)',
  kind: 'baseline',
  async run(context) {
    context.progress('starting the relay and 100 responders');
    const relay = await context.processes.startWorker('ws-relay-server', {});
    const url = `ws://${loopback}:${relay.info.port}`;
    await context.processes.startWorker('ws-responders', { url, count: shape.responders });
    const requesters = await Promise.all(Array.from({ length: shape.requesterConnections }, () => WsRequester.connect(url)));
    try {
      return await measureRequestReply(context, spread(requesters));
    } finally {
      for (const requester of requesters) requester.close();
    }
  },
};

/** Role: the relay. Paths: /responder/<n> and /requester. */
export async function wsRelayServer(_options: Record<string, never>): Promise<RunningRole<{ port: number }>> {
  const server = new WebSocketServer({ host: loopback, port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const responders = new Map<number, BatchedSocket>();
  const inFlight = new Map<number, { requester: BatchedSocket; id: number }>();
  let nextId = 1;

  const batcher = new WriteBatcher();
  server.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    const socket = batcher.wrap(ws, request.socket);
    const path = request.url ?? '';
    if (path.startsWith('/responder/')) {
      const n = Number(path.slice('/responder/'.length));
      responders.set(n, socket);
      ws.on('close', () => responders.get(n) === socket && responders.delete(n));
      ws.on('message', (data) => {
        const answer = JSON.parse(data.toString()) as AnswerFrame;
        const waiting = inFlight.get(answer.id);
        if (waiting === undefined) return;
        inFlight.delete(answer.id);
        waiting.requester.send(JSON.stringify({ id: waiting.id, result: answer.result } satisfies ReplyFrame));
      });
    } else {
      ws.on('message', (data) => {
        const request = JSON.parse(data.toString()) as RequestFrame;
        const responder = responders.get(request.to);
        if (responder === undefined) {
          socket.send(JSON.stringify({ id: request.id, error: `responder ${request.to} is not connected` } satisfies ReplyFrame));
          return;
        }
        const id = nextId++;
        inFlight.set(id, { requester: socket, id: request.id });
        responder.send(JSON.stringify({ id, payload: request.payload } satisfies ForwardFrame));
      });
    }
  });

  return {
    info: { port: (server.address() as AddressInfo).port },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** Role: `count` responders, each answering every request it is given. */
export async function wsResponders(options: { url: string; count: number }): Promise<RunningRole<undefined>> {
  const batcher = new WriteBatcher();
  const sockets = await Promise.all(
    Array.from({ length: options.count }, (_, n) =>
      open(`${options.url}/responder/${n}`, batcher).then((socket) => {
        socket.ws.on('message', (data) => {
          const request = JSON.parse(data.toString()) as ForwardFrame;
          socket.send(JSON.stringify({ id: request.id, result: replyBody } satisfies AnswerFrame));
        });
        return socket;
      }),
    ),
  );
  return {
    info: undefined,
    stop: async () => {
      for (const socket of sockets) socket.ws.terminate();
    },
  };
}

function open(url: string, batcher: WriteBatcher): Promise<BatchedSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    // the 'upgrade' response's socket is the connection's TCP socket
    ws.once('upgrade', (response) => ws.once('open', () => resolve(batcher.wrap(ws, response.socket))));
    ws.once('error', reject);
  });
}

interface BatchedSocket {
  readonly ws: WebSocket;
  send(data: string): void;
}

/**
 * Sends of one event-loop turn leave in one write per TCP socket: the socket
 * is corked at its first send and uncorked once the turn's I/O is handled
 * (setImmediate), instead of one syscall per message.
 */
class WriteBatcher {
  #corked: Socket[] = [];

  wrap(ws: WebSocket, socket: Socket): BatchedSocket {
    return {
      ws,
      send: (data) => {
        if (socket.writableCorked === 0) {
          socket.cork();
          if (this.#corked.push(socket) === 1) setImmediate(this.#flush);
        }
        ws.send(data);
      },
    };
  }

  readonly #flush = (): void => {
    const corked = this.#corked;
    this.#corked = [];
    for (const socket of corked) socket.uncork();
  };
}

class WsRequester {
  static readonly #batcher = new WriteBatcher();
  readonly #pending = new PendingReplies();

  private constructor(readonly socket: BatchedSocket) {
    socket.ws.on('message', (data) => {
      const reply = JSON.parse(data.toString()) as ReplyFrame;
      this.#pending.settle(reply.id, reply.error);
    });
    socket.ws.on('close', () => this.#pending.close('relay connection closed'));
  }

  static async connect(url: string): Promise<WsRequester> {
    return new WsRequester(await open(`${url}/requester`, WsRequester.#batcher));
  }

  send(target: number): Promise<void> {
    const { id, reply } = this.#pending.open();
    this.socket.send(JSON.stringify({ id, to: target, payload: requestBody } satisfies RequestFrame));
    return reply;
  }

  close(): void {
    this.socket.ws.terminate();
  }
}
