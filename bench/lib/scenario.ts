import type { ProcessTracker } from './processes.js';

export type Mode = 'smoke' | 'quick' | 'full';

/** How long each part of a scenario runs, per mode. */
export interface Timing {
  readonly warmupMs: number;
  /** the closed-loop measured window */
  readonly measureMs: number;
  readonly pacedRatePerSecond: number;
  readonly pacedWarmupMs: number;
  readonly pacedMs: number;
  /** each of the two raw SQLite measurements */
  readonly sqliteMs: number;
}

export const timings: Readonly<Record<Mode, Timing>> = {
  smoke: { warmupMs: 250, measureMs: 1000, pacedRatePerSecond: 500, pacedWarmupMs: 100, pacedMs: 500, sqliteMs: 400 },
  quick: { warmupMs: 1000, measureMs: 6000, pacedRatePerSecond: 500, pacedWarmupMs: 500, pacedMs: 2000, sqliteMs: 3000 },
  full: { warmupMs: 3000, measureMs: 30_000, pacedRatePerSecond: 500, pacedWarmupMs: 1000, pacedMs: 15_000, sqliteMs: 15_000 },
};

/** One measured number. `key` is what Appia figures and baseline figures are matched on. */
export interface Figure {
  /** stable id, e.g. `closedLoop.roundTripsPerSecond`; the JSON and the ratios use it */
  readonly key: string;
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /**
   * Appia figures only: the baseline keys to divide by, when they differ from
   * `key` (e.g. Appia's durable commands/s against `sqlite.fullCommitsPerSecond`).
   */
  readonly compareWith?: readonly string[];
}

export interface ScenarioContext {
  readonly mode: Mode;
  readonly timing: Timing;
  /** starts and always stops child processes and temp dirs */
  readonly processes: ProcessTracker;
  /** a short note on what the scenario is doing now (shown on the progress line) */
  progress(text: string): void;
}

export type ScenarioOutcome =
  | { readonly figures: readonly Figure[]; readonly notes?: readonly string[] }
  | { readonly skipped: string };

/**
 * One entry of the benchmark. A baseline measures something Appia is compared
 * with; an Appia scenario measures Appia, and its figures are divided by the
 * baselines' figures of the same key (see ratio.ts).
 */
export interface Scenario {
  /** file-name-safe: results go to bench/results/<date>-<name>.json */
  readonly name: string;
  readonly title: string;
  readonly kind: 'baseline' | 'appia';
  /** Appia scenarios only: earlier Appia scenarios of the same run whose figures this one's are divided by too */
  readonly comparedWith?: readonly string[];
  run(context: ScenarioContext): Promise<ScenarioOutcome>;
}
