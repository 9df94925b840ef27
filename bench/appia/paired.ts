// This build's server beside another build's, under the same load at the
// same time. On a shared machine whose speed drifts from one minute to the
// next (other work, the host), two builds run one after the other can differ
// by more than any change between them; run side by side, both see the same
// machine, and the ratio of their figures is what compares them.
//
// APPIA_BENCH_PAIRED_SERVER=<other checkout>/bin/appia.js (built there) names
// the other server; without it the scenario is skipped.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { runClosedLoop } from '../lib/closed-loop.js';
import { runPaced } from '../lib/paced.js';
import type { Figure, Scenario, ScenarioContext, ScenarioOutcome } from '../lib/scenario.js';
import { shape } from '../lib/shape.js';
import { type AppiaServer, nodeFlagsFrom, processSeconds, startAppiaServer, threadSeconds } from './server.js';
import { waitedCreates, type WaitedCreates } from './waited-creates.js';

export const paired: Scenario = {
  name: 'appia-e2e-paired',
  title: 'Appia end to end, this build and APPIA_BENCH_PAIRED_SERVER side by side',
  kind: 'appia',
  run: runPaired,
};

interface Side {
  readonly name: string;
  readonly server: AppiaServer;
  readonly creates: WaitedCreates;
  completed: number;
  serverCpu: number;
  mainCpu: number;
  /** write system calls and bytes handed to the storage layer (/proc/<pid>/io), over the rounds */
  writeCalls: number;
  storageBytes: number;
  readonly roundRates: number[];
  /** each paced round's p50 and p99, ms */
  readonly pacedP50: number[];
  readonly pacedP99: number[];
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** A process's I/O counters (Linux /proc/<pid>/io: all its threads); zeros when unreadable. */
function ioOf(pid: number): { syscw: number; write_bytes: number } {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { syscw: field('syscw'), write_bytes: field('write_bytes') };
  } catch {
    return { syscw: 0, write_bytes: 0 };
  }
}

async function runPaired(context: ScenarioContext): Promise<ScenarioOutcome> {
  const otherBin = process.env['APPIA_BENCH_PAIRED_SERVER'];
  if (!otherBin) return { skipped: 'set APPIA_BENCH_PAIRED_SERVER=<another checkout>/bin/appia.js (built there) to run that server beside this one' };
  const load = loadavg();
  context.progress('starting both servers');
  const thisServer = await startAppiaServer(context, { name: 'appia-server' });
  // APPIA_BENCH_PAIRED_NODE_ARGS: node flags for the other server alone (to compare a flag, pair a build with itself)
  const otherNodeArgs = nodeFlagsFrom('APPIA_BENCH_PAIRED_NODE_ARGS');
  const otherServer = await startAppiaServer(context, { name: 'appia-server-paired', bin: otherBin, nodeArgs: otherNodeArgs });
  context.progress(`registering and connecting ${shape.responders} SDK devices to each`);
  const rounds = context.mode === 'smoke' ? 2 : 6;
  const roundMs = context.timing.measureMs / 2;
  // half the shape's outstanding requests each: the machine carries the load of one appia-e2e
  const outstanding = shape.outstanding / 2;
  const sides: Side[] = [];
  try {
    for (const [name, server] of [['this', thisServer], ['other', otherServer]] as const) {
      sides.push({ name, server, creates: await waitedCreates(context, { devicesOn: server }), completed: 0, serverCpu: 0, mainCpu: 0, writeCalls: 0, storageBytes: 0, roundRates: [], pacedP50: [], pacedP99: [] });
    }
    const prewarmMs = 2 * context.timing.warmupMs;
    context.progress(`warming both up, ${prewarmMs / 1000} s`);
    await Promise.all(sides.map((side) => side.creates.prewarm(prewarmMs)));
    for (let round = 1; round <= rounds; round++) {
      context.progress(`round ${round} of ${rounds}, ${roundMs / 1000} s`);
      const before = sides.map((side) => ({ server: processSeconds(side.server.pid) ?? NaN, main: threadSeconds(side.server.pid) ?? NaN, io: ioOf(side.server.pid) }));
      const results = await Promise.all(
        sides.map((side) =>
          runClosedLoop({ outstanding, warmupMs: 0, durationMs: roundMs, send: (slot) => side.creates.send(slot % shape.responders) }),
        ),
      );
      sides.forEach((side, i) => {
        const result = results[i]!;
        if (result.errors > 0) throw new Error(`${side.name} server: ${result.errors} requests failed (first: ${result.firstError})`);
        // the CPU includes the few requests still finishing after the window: per request, not per second
        const io = ioOf(side.server.pid);
        side.serverCpu += (processSeconds(side.server.pid) ?? NaN) - before[i]!.server;
        side.mainCpu += (threadSeconds(side.server.pid) ?? NaN) - before[i]!.main;
        side.writeCalls += io.syscw - before[i]!.io.syscw;
        side.storageBytes += io.write_bytes - before[i]!.io.write_bytes;
        side.completed += result.completed;
        side.roundRates.push(result.perSecond);
      });
    }
    // Then both paced at once, half the shape's rate each (the machine carries one appia-e2e's paced load):
    // latency from when each request was due, round by round, so a drifting machine hits both alike.
    const pacedRate = context.timing.pacedRatePerSecond / 2;
    for (let round = 1; round <= rounds; round++) {
      context.progress(`paced round ${round} of ${rounds}, ${pacedRate}/s each, ${context.timing.pacedMs / 1000} s`);
      const results = await Promise.all(
        sides.map((side) =>
          runPaced({ ratePerSecond: pacedRate, warmupMs: context.timing.pacedWarmupMs, durationMs: context.timing.pacedMs, send: (seq) => side.creates.send(seq % shape.responders) }),
        ),
      );
      sides.forEach((side, i) => {
        const result = results[i]!;
        if (result.errors > 0 || result.unfinished > 0) throw new Error(`${side.name} server, paced: ${result.errors} failed, ${result.unfinished} unfinished (first: ${result.firstError})`);
        side.pacedP50.push(result.latency.p50);
        side.pacedP99.push(result.latency.p99);
      });
    }
  } finally {
    for (const side of sides) await side.creates.close();
    await thisServer.process.stop();
    await otherServer.process.stop();
  }
  const [mine, other] = sides as [Side, Side];
  const rate = (side: Side) => side.completed / ((rounds * roundMs) / 1000);
  const perCommand = (seconds: number, side: Side) => (seconds * 1e6) / side.completed;
  const figure = (key: string, label: string, value: number, unit: string, better: 'higher' | 'lower'): Figure => ({ key, label, value, unit, better });
  const roundRatios = mine.roundRates.map((r, i) => r / other.roundRates[i]!).sort((a, b) => a - b);
  const p99Ratios = mine.pacedP99.map((p, i) => p / other.pacedP99[i]!).sort((a, b) => a - b);
  return {
    figures: [
      figure('paired.thisCommandsPerSecond', 'this build: round trips', rate(mine), '/s', 'higher'),
      figure('paired.otherCommandsPerSecond', 'other build: round trips', rate(other), '/s', 'higher'),
      figure('paired.throughputRatio', 'round trips, this / other', rate(mine) / rate(other), '×', 'higher'),
      figure('paired.thisServerCpuPerCommandUs', 'this build: server CPU per command', perCommand(mine.serverCpu, mine), 'µs', 'lower'),
      figure('paired.otherServerCpuPerCommandUs', 'other build: server CPU per command', perCommand(other.serverCpu, other), 'µs', 'lower'),
      figure('paired.serverCpuRatio', 'server CPU per command, this / other', perCommand(mine.serverCpu, mine) / perCommand(other.serverCpu, other), '×', 'lower'),
      figure('paired.thisMainThreadCpuPerCommandUs', 'this build: main thread CPU per command', perCommand(mine.mainCpu, mine), 'µs', 'lower'),
      figure('paired.otherMainThreadCpuPerCommandUs', 'other build: main thread CPU per command', perCommand(other.mainCpu, other), 'µs', 'lower'),
      figure('paired.thisWriteCallsPerCommand', 'this build: write system calls per command', mine.writeCalls / mine.completed, '', 'lower'),
      figure('paired.otherWriteCallsPerCommand', 'other build: write system calls per command', other.writeCalls / other.completed, '', 'lower'),
      figure('paired.thisStorageBytesPerCommand', 'this build: bytes written to storage per command', mine.storageBytes / mine.completed, 'B', 'lower'),
      figure('paired.otherStorageBytesPerCommand', 'other build: bytes written to storage per command', other.storageBytes / other.completed, 'B', 'lower'),
      figure('paired.thisPacedP50Ms', 'this build: paced p50, median of rounds', median(mine.pacedP50), 'ms', 'lower'),
      figure('paired.otherPacedP50Ms', 'other build: paced p50, median of rounds', median(other.pacedP50), 'ms', 'lower'),
      figure('paired.thisPacedP99Ms', 'this build: paced p99, median of rounds', median(mine.pacedP99), 'ms', 'lower'),
      figure('paired.otherPacedP99Ms', 'other build: paced p99, median of rounds', median(other.pacedP99), 'ms', 'lower'),
      figure('paired.pacedP99Ratio', 'paced p99, this / other (median of the rounds\' ratios)', median(p99Ratios), '×', 'lower'),
    ],
    notes: [
      `other build: ${otherBin}${otherNodeArgs.length > 0 ? ` (node ${otherNodeArgs.join(' ')})` : ''}; both servers ran at once, each with ${shape.responders} SDK devices and ${outstanding} commands outstanding (one per device), ` +
        `${rounds} rounds of ${roundMs / 1000} s`,
      `round-trip ratio per round, this / other: ${roundRatios.map((r) => r.toFixed(3)).join(' ')}`,
      `then ${rounds} paced rounds of ${context.timing.pacedMs / 1000} s at ${context.timing.pacedRatePerSecond / 2}/s each, both at once; paced p99 ratio per round, this / other: ${p99Ratios.map((r) => r.toFixed(2)).join(' ')}`,
      `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
    ],
  };
}
