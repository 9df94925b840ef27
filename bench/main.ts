// `npm run bench [-- --smoke | --quick | --full] [--only a,b] [--out DIR]`
// Runs the scenarios of bench/scenarios.ts in order on loopback, prints a
// table as it goes, writes bench/results/<date>-<scenario>.json and stops
// everything it started. It reports figures and asserts none; it exits 1 only
// when a scenario could not run at all (so CI notices a rotting benchmark).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessTracker } from './lib/processes.js';
import { formatRatio, type MeasuredBaseline, ratios } from './lib/ratio.js';
import { describeMachine, type ScenarioResult, writeResult } from './lib/results.js';
import { type Mode, type Scenario, type ScenarioContext, timings } from './lib/scenario.js';
import { replyBytes, requestBytes, shape } from './lib/shape.js';
import { Table } from './lib/table.js';
import { errorText, now } from './lib/time.js';
import { scenarios } from './scenarios.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Options {
  readonly mode: Mode;
  readonly only?: readonly string[];
  readonly out: string;
}

const usage = `usage: npm run bench -- [--smoke | --quick | --full] [--only NAME,...] [--out DIR]
  --smoke   a few seconds, every scenario (CI); results go to a temp dir
  --quick   the default, at most 3 minutes
  --full    the long version
  --only    run only these scenarios (${scenarios.map((s) => s.name).join(', ')})
  --out     where the JSON results go (default bench/results)`;

function parseOptions(args: readonly string[]): Options {
  let mode: Mode = 'quick';
  let only: string[] | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--smoke' || arg === '--quick' || arg === '--full') mode = arg.slice(2) as Mode;
    else if (arg === '--only' && args[i + 1]) only = args[++i].split(',').map((s) => s.trim());
    else if (arg === '--out' && args[i + 1]) out = args[++i];
    else if (arg === '--help' || arg === '-h') fail(usage, 0);
    else fail(`unknown argument: ${arg}\n${usage}`, 2);
  }
  const unknown = only?.filter((name) => !scenarios.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) fail(`unknown scenario: ${unknown.join(', ')}\n${usage}`, 2);
  // smoke figures mean nothing: keep them out of bench/results
  const defaultOut = mode === 'smoke' ? join(tmpdir(), 'appia-bench-smoke') : join(root, 'bench', 'results');
  return { mode, ...(only ? { only } : {}), out: out ?? defaultOut };
}

function fail(message: string, code: number): never {
  (code === 0 ? process.stdout : process.stderr).write(`${message}\n`);
  process.exit(code);
}

/** The progress line: rewritten in place on a terminal, printed once otherwise. */
function progressLine(prefix: string): { update(text: string): void; finish(text: string): void } {
  const tty = process.stdout.isTTY === true;
  if (!tty) process.stdout.write(`${prefix}\n`);
  return {
    // cut to the terminal's width: a wrapped line could not be rewritten in place
    update: (text) => tty && process.stdout.write(`\r\x1b[K${`${prefix}: ${text}`.slice(0, (process.stdout.columns || 80) - 1)}`),
    finish: (text) => process.stdout.write(tty ? `\r\x1b[K${prefix} (${text})\n` : `${' '.repeat(6)}(${text})\n`),
  };
}

async function runScenario(scenario: Scenario, context: ScenarioContext): Promise<Pick<ScenarioResult, 'status' | 'reason' | 'figures' | 'notes'>> {
  try {
    const outcome = await scenario.run(context);
    if ('skipped' in outcome) return { status: 'skipped', reason: outcome.skipped, figures: [], notes: [] };
    return { status: 'measured', figures: outcome.figures, notes: outcome.notes ?? [] };
  } catch (error) {
    return { status: 'failed', reason: errorText(error), figures: [], notes: [] };
  } finally {
    await context.processes.stopAll();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const write = (line: string): void => void process.stdout.write(`${line}\n`);
  const processes = new ProcessTracker();
  processes.installExitHandlers(write);

  const selected = scenarios.filter((s) => options.only === undefined || options.only.includes(s.name));
  const machine = describeMachine(root);
  const timing = timings[options.mode];
  write(`Appia benchmark, ${options.mode} mode: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`);
  write(
    `shape: ${shape.responders} responders, ${shape.outstanding} outstanding requests (closed loop, ` +
      `${timing.measureMs / 1000} s after ${timing.warmupMs / 1000} s warm-up), then paced ${timing.pacedRatePerSecond}/s for ${timing.pacedMs / 1000} s; loopback only\n`,
  );
  const table = new Table(write, selected.some((s) => s.kind === 'appia'));
  table.header();

  const baselines: MeasuredBaseline[] = [];
  const measuredAppia: MeasuredBaseline[] = [];
  const written: string[] = [];
  let failures = 0;
  const runStartedAt = now();
  for (const [i, scenario] of selected.entries()) {
    const line = progressLine(`[${i + 1}/${selected.length}] ${scenario.name}: ${scenario.title}`);
    const startedAt = new Date();
    const t0 = now();
    const outcome = await runScenario(scenario, { mode: options.mode, timing, processes, progress: line.update });
    const durationMs = Math.round(now() - t0);
    line.finish(`${outcome.status}, ${(durationMs / 1000).toFixed(1)} s`);

    const references = [...baselines, ...measuredAppia.filter((m) => scenario.comparedWith?.includes(m.scenario))];
    const scenarioRatios = scenario.kind === 'appia' ? ratios(outcome.figures, references) : [];
    if (outcome.status === 'measured') (scenario.kind === 'baseline' ? baselines : measuredAppia).push({ scenario: scenario.name, figures: outcome.figures });
    for (const figure of outcome.figures) {
      table.row(scenario.name, figure, scenarioRatios.filter((r) => r.figure === figure.key).map(formatRatio));
    }
    for (const note of outcome.notes) table.note(scenario.name, `note: ${note}`);
    if (outcome.status !== 'measured') table.note(scenario.name, `${outcome.status.toUpperCase()}: ${outcome.reason}`);
    if (outcome.status === 'failed') failures++;

    const result: ScenarioResult = {
      scenario: scenario.name,
      title: scenario.title,
      kind: scenario.kind,
      ...outcome,
      mode: options.mode,
      startedAt: startedAt.toISOString(),
      durationMs,
      ratios: scenarioRatios,
      shape: { ...shape, requestBytes: requestBytes.length, replyBytes: replyBytes.length },
      timing,
      machine,
    };
    if (outcome.status === 'measured') written.push(writeResult(options.out, result));
  }

  write(`\n${selected.length} scenario(s) in ${((now() - runStartedAt) / 1000).toFixed(1)} s; results in ${options.out}:`);
  for (const path of written) write(`  ${path}`);
  if (failures > 0) write(`${failures} scenario(s) failed`);
  process.exitCode = failures > 0 ? 1 : 0;
}

await main();
