// Appia end to end, the shape every request/response baseline has: 100
// devices on the device SDK (a worker process) answering an AppService
// command at once, 200 commands outstanding in a closed loop, then a paced
// 500/s. A command is created over HTTP with `Prefer: wait=60`, which Appia
// answers only once the command is final, so each request/response here is
// create -> deliver -> received -> completed stored -> answer, and the
// requester learns `completed` from the server itself with one request and
// no polling. The server runs in its own process; the requesters (a thin
// keep-alive HTTP client, http-client.ts) in the benchmark's.
import { loadavg } from 'node:os';
import { measureRequestReply } from '../lib/request-reply.js';
import type { Figure, Scenario, ScenarioContext, ScenarioOutcome } from '../lib/scenario.js';
import { shape } from '../lib/shape.js';
import { processSeconds, startAppiaServer, threadSeconds } from './server.js';
import { waitedCreates } from './waited-creates.js';

export const endToEnd: Scenario = {
  name: 'appia-e2e',
  title: 'Appia end to end (SQLite synchronous=FULL, Prefer: wait)',
  kind: 'appia',
  run: (context) => runEndToEnd(context, 'FULL'),
};

export const endToEndNormal: Scenario = {
  name: 'appia-e2e-normal',
  title: 'Appia end to end (SQLite synchronous=NORMAL, Prefer: wait)',
  kind: 'appia',
  run: (context) => runEndToEnd(context, 'NORMAL'),
};

async function runEndToEnd(context: ScenarioContext, synchronous: 'FULL' | 'NORMAL'): Promise<ScenarioOutcome> {
  const load = loadavg();
  context.progress(`starting the Appia server (synchronous=${synchronous})`);
  const server = await startAppiaServer(context, { synchronous });
  context.progress(`registering and connecting ${shape.responders} SDK devices`);
  const creates = await waitedCreates(context, { devicesOn: server });
  try {
    // The server takes a few seconds to reach its steady pace (JIT, SQLite's page cache): a
    // closed loop of its own before the shared measurement, whose own warm-up is only 1 s.
    const prewarmMs = 2 * context.timing.warmupMs;
    context.progress(`warming the server up, ${prewarmMs / 1000} s`);
    await creates.prewarm(prewarmMs);
    const cpuBefore = processSeconds(server.pid);
    const mainBefore = threadSeconds(server.pid);
    const devicesBefore = processSeconds(creates.deviceWorker.pid);
    const requestersBefore = process.cpuUsage();
    const completedBefore = creates.completed();
    const { figures, notes } = await measureRequestReply(context, creates.send);
    const serverCpu = (processSeconds(server.pid) ?? NaN) - (cpuBefore ?? NaN);
    const mainCpu = (threadSeconds(server.pid) ?? NaN) - (mainBefore ?? NaN);
    const devicesCpu = (processSeconds(creates.deviceWorker.pid) ?? NaN) - (devicesBefore ?? NaN);
    const requestersUsage = process.cpuUsage(requestersBefore);
    const requestersCpu = (requestersUsage.user + requestersUsage.system) / 1e6;
    const perSecond = figures.find((f) => f.key === 'closedLoop.roundTripsPerSecond')!.value;
    const durable: Figure[] =
      synchronous === 'FULL'
        ? [
            {
              key: 'appia.durableCommandsPerSecond',
              label: 'commands/s vs raw 1-row commits',
              value: perSecond,
              unit: '/s',
              better: 'higher',
              compareWith: ['sqlite.fullCommitsPerSecond'],
            },
          ]
        : [];
    const perCommand = (key: string, label: string, seconds: number): Figure => ({
      key,
      label,
      value: (seconds * 1e6) / (creates.completed() - completedBefore),
      unit: 'µs',
      better: 'lower',
    });
    const cpuPerCommand = [
      perCommand('appia.serverCpuPerCommandUs', 'server CPU per command', serverCpu),
      // the event loop's own thread (the writer and checkpoint threads, libuv's and GC's are the rest)
      perCommand('appia.serverMainThreadCpuPerCommandUs', 'server main thread CPU per command', mainCpu),
      perCommand('appia.devicesCpuPerCommandUs', 'devices CPU per command', devicesCpu),
      perCommand('appia.requestersCpuPerCommandUs', 'requesters CPU per command', requestersCpu),
    ];
    return {
      figures: [...figures, ...durable, ...cpuPerCommand],
      notes: [
        `completion learnt from the server: POST .../commands with Prefer: wait=60 answers once the command is final (4 stored status changes each); ` +
          `${shape.responders} SDK devices in 1 worker; ${prewarmMs / 1000} s of extra warm-up first; server CPU per command over the closed loop and paced runs together`,
        ...notes,
        `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
      ],
    };
  } finally {
    // devices first, so the server's shutdown (and a --cpu-prof profile) is not spent on reconnects
    await creates.close();
    await server.process.stop();
  }
}
