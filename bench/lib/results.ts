import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Ratio } from './ratio.js';
import type { Figure, Mode, Timing } from './scenario.js';
import type { shape } from './shape.js';

/** What bench/results/<date>-<scenario>.json holds. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly title: string;
  readonly kind: 'baseline' | 'appia';
  readonly status: 'measured' | 'skipped' | 'failed';
  /** why it was skipped or how it failed */
  readonly reason?: string;
  readonly mode: Mode;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly figures: readonly Figure[];
  readonly ratios: readonly Ratio[];
  readonly notes: readonly string[];
  readonly shape: typeof shape & { readonly requestBytes: number; readonly replyBytes: number };
  readonly timing: Timing;
  readonly machine: Machine;
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly commit?: string;
}

export function describeMachine(root: string): Machine {
  const cores = cpus();
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    commit = undefined;
  }
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    ...(commit ? { commit } : {}),
  };
}

/** Local date, YYYY-MM-DD. */
export function localDate(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Writes `<dir>/<date>-<scenario>.json` (through a .tmp file, so a crash leaves no half file). */
export function writeResult(dir: string, result: ScenarioResult): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${localDate(new Date(result.startedAt))}-${result.scenario}.json`);
  // sub-microsecond digits of a latency or a rate are noise
  const rounded = (_key: string, value: unknown): unknown =>
    typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value;
  writeFileSync(`${path}.tmp`, `${JSON.stringify(result, rounded, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}
