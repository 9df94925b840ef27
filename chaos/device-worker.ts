// One process of the chaos fleet: a few devices on the real SDK (appia/device), each on its own
// WebSocket to the server (through the harness's TCP proxy). Its ledger lines go to a file with
// synchronous writes, so a SIGKILL loses none of what the process did before it:
//   run <commandId> <nonce>          a handler started
//   acked <commandId> <t> <nonce>    the server acked a final report (completed: its nonce)
//   cut <point>                      this process cut its own connection at that point
import { openSync, readFileSync, writeSync } from 'node:fs';
import { WebSocket } from 'ws';
import { connect, type DeviceConnection, type WebSocketConstructor } from '../src/device/index.js';

interface WorkerConfig {
  readonly url: string;
  readonly devices: readonly { readonly id: string; readonly token: string }[];
  readonly ledger: string;
  /** the chance, at each cut point, that the connection is cut there */
  readonly cutRate: number;
  /** the longest a handler takes, in ms */
  readonly handlerMs: number;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as WorkerConfig;
/** the network heals when the harness says so (the settle at the end of a phase) */
let cutRate = config.cutRate;
process.on('message', (message) => {
  if (message === 'calm') cutRate = 0;
});
const fd = openSync(config.ledger, 'a');
const line = (text: string): void => {
  writeSync(fd, `${text}\n`);
};
let runs = 0;

/** where a connection can be cut on purpose (DESIGN 4: every one of them must lose nothing) */
type CutPoint = 'before-receipt' | 'after-receipt' | 'after-result' | 'after-ack';

/**
 * The `ws` WebSocket, cut (a TCP reset, no close frame) now and then at the
 * points of a command's life that matter: a command frame arrives and is
 * never seen by the SDK; a receipt or a result has been written to the socket
 * but its ack cannot come back; an ack has just been read.
 */
class CuttingWebSocket extends WebSocket {
  /** outgoing refs of final reports: ref -> [commandId, t, nonce] */
  readonly #finals = new Map<string, [string, string, string]>();

  #cut(point: CutPoint): boolean {
    if (Math.random() >= cutRate) return false;
    line(`cut ${point}`);
    this.terminate();
    return true;
  }

  override send(data: unknown, ...rest: unknown[]): void {
    const cb = rest.find((r) => typeof r === 'function') as ((err?: Error) => void) | undefined;
    const text = String(data);
    let point: CutPoint | undefined;
    if (text.startsWith('{"t":"received"')) point = 'after-receipt';
    else if (/^\{"t":"(completed|failed|canceled|dropped)"/.test(text)) {
      const frame = JSON.parse(text) as { t: string; ref: string; id: string; responsePayload?: { nonce?: string } };
      this.#finals.set(frame.ref, [frame.id, frame.t, frame.responsePayload?.nonce ?? '-']);
      point = 'after-result';
    }
    super.send(data as string, (err?: Error) => {
      cb?.(err);
      if (!err && point && this.readyState === WebSocket.OPEN) this.#cut(point);
    });
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && this.readyState === WebSocket.OPEN) {
      const text = String(args[0]);
      if (text.startsWith('{"t":"command"') && this.#cut('before-receipt')) return true;
      if (text.startsWith('{"t":"ack"')) {
        const { ref } = JSON.parse(text) as { ref: string };
        const final = this.#finals.get(ref);
        if (final) {
          this.#finals.delete(ref);
          line(`acked ${final.join(' ')}`);
        }
        const delivered = super.emit(event, ...args);
        if (final) this.#cut('after-ack');
        return delivered;
      }
    }
    return super.emit(event, ...args);
  }
}

const connections: DeviceConnection[] = [];
for (const device of config.devices) {
  connections.push(
    await connect({
      url: config.url,
      token: device.token,
      WebSocket: CuttingWebSocket as unknown as WebSocketConstructor,
      reconnect: { initialDelayMs: 100, maxDelayMs: 2000 },
      keepAliveMs: 5000,
      handshakeTimeoutMs: 5000,
      handlers: {
        LaunchUri: async (command) => {
          const nonce = `${process.pid}-${++runs}`;
          line(`run ${command.id} ${nonce}`);
          return new Promise((resolve) => setTimeout(() => resolve({ nonce }), Math.random() * config.handlerMs));
        },
      },
    }).catch((err: unknown) => {
      process.stderr.write(`chaos device ${device.id}: ${String(err)}\n`);
      process.exit(2);
    }),
  );
}
process.send?.('ready');
// the harness going away (or closing the channel) ends the fleet
process.on('disconnect', () => {
  for (const c of connections) void c.close();
  process.exit(0);
});
