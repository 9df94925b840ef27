// Appia end to end with postbacks (DESIGN 6): the appia-e2e load (100 SDK devices, 200 commands
// outstanding, create with `Prefer: wait=60`), but every command carries a postBackUri, so each of its 4
// status changes is also POSTed, signed, to a receiver on loopback (the server runs with
// `--postback-allow 127.0.0.1/32`). Measured: commands/s with postbacks on, postbacks delivered/s at the
// receiver during the same window, then how fast the dispatcher drains what is left once the load stops.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runClosedLoop } from '../lib/closed-loop.js';
import { cpuSnapshot, describeCpuUse } from '../lib/cpu.js';
import { loopback } from '../lib/ports.js';
import type { Figure, Scenario, ScenarioContext, ScenarioOutcome } from '../lib/scenario.js';
import { shape } from '../lib/shape.js';
import { now, sleep } from '../lib/time.js';
import { startAppiaServer } from './server.js';
import { commandBody, waitedCreates } from './waited-creates.js';

/** A postback receiver in the benchmark's process: answers 204 at once and notes when each postback came. */
class Receiver {
  readonly times: number[] = [];
  readonly ids = new Set<string>();
  /** last sequence seen per command, to count any that came out of order */
  readonly #last = new Map<string, number>();
  outOfOrder = 0;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { id, sequence } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; sequence: number };
        if (sequence < (this.#last.get(id) ?? 0)) this.outOfOrder++;
        this.#last.set(id, sequence);
        this.ids.add(String(req.headers['webhook-id']));
        this.times.push(now());
        res.writeHead(204).end();
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, loopback, resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  between(from: number, to: number): number {
    return this.times.filter((t) => t >= from && t <= to).length;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

export const postbacks: Scenario = {
  name: 'appia-postbacks',
  title: 'Appia end to end with a postback per status change (SQLite synchronous=FULL)',
  kind: 'appia',
  run: runPostbacks,
};

async function runPostbacks(context: ScenarioContext): Promise<ScenarioOutcome> {
  const receiver = new Receiver();
  const receiverPort = await receiver.listen();
  context.progress('starting the Appia server with --postback-allow 127.0.0.1/32');
  const server = await startAppiaServer(context, { args: ['--postback-allow', '127.0.0.1/32'] });
  const creates = await waitedCreates(context, { devicesOn: server, body: { ...commandBody, postBackUri: `http://${loopback}:${receiverPort}/hook` } });
  try {
    const { warmupMs, measureMs } = context.timing;
    context.progress(`closed loop with postbacks, ${shape.outstanding} outstanding, ${(warmupMs + measureMs) / 1000} s`);
    const watched = () => context.processes.list();
    let cpuBefore = cpuSnapshot(watched());
    let windowFrom = Infinity;
    const warm = setTimeout(() => ((cpuBefore = cpuSnapshot(watched())), (windowFrom = now())), warmupMs);
    const loop = await runClosedLoop({ outstanding: shape.outstanding, warmupMs, durationMs: measureMs, send: (slot) => creates.send(slot % shape.responders) });
    clearTimeout(warm);
    const windowTo = Math.min(now(), windowFrom + measureMs);
    const cpuNote = describeCpuUse(cpuBefore, cpuSnapshot(watched()));
    const duringLoad = receiver.between(windowFrom, windowTo);

    // 4 status changes per command, each one postback: what is left is the outbox's backlog
    const expected = creates.completed() * 4;
    const backlog = expected - receiver.ids.size;
    context.progress(`draining ${backlog} postbacks`);
    const drainFrom = now();
    const deadline = drainFrom + Math.max(30_000, backlog);
    while (receiver.ids.size < expected && now() < deadline) await sleep(5);
    const drainMs = now() - drainFrom;
    const drained = receiver.ids.size >= expected;

    const figures: Figure[] = [
      { key: 'postbacks.commandsPerSecond', label: 'commands/s with postbacks on', value: loop.perSecond, unit: '/s', better: 'higher' },
      { key: 'postbacks.deliveredPerSecondUnderLoad', label: 'postbacks delivered/s during that load', value: duringLoad / (measureMs / 1000), unit: '/s', better: 'higher' },
      // a backlog of a few hundred drains within the polling and the last answers' latency: no rate to speak of
      ...(backlog >= 1000 && drained
        ? [{ key: 'postbacks.drainPerSecond', label: 'postbacks/s draining the backlog', value: backlog / (drainMs / 1000), unit: '/s', better: 'higher' } as const]
        : []),
    ];
    return {
      figures,
      notes: [
        `each command: create with Prefer: wait=60 as in appia-e2e, plus a signed postback per status change (4) to a loopback receiver in the benchmark's process; compare commands/s with appia-e2e's closed loop above`,
        `closed loop ${cpuNote}`,
        `backlog when the load stopped: ${backlog} postbacks (${expected} queued in all); ${drained ? `drained in ${(drainMs / 1000).toFixed(1)} s` : `NOT drained after ${(drainMs / 1000).toFixed(1)} s`}; ${receiver.outOfOrder} out of order; ${receiver.times.length - receiver.ids.size} repeats`,
        ...(loop.errors > 0 ? [`closed loop: ${loop.errors} errors (first: ${loop.firstError})`] : []),
      ],
    };
  } finally {
    await creates.close();
    await server.process.stop();
    await receiver.close();
  }
}
