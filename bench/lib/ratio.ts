import type { Figure } from './scenario.js';

/** One Appia figure divided by one baseline figure. */
export interface Ratio {
  readonly figure: string;
  readonly baseline: string;
  readonly baselineFigure: string;
  readonly baselineValue: number;
  /** Appia / baseline: above 1 means more of it (good for a rate, bad for a latency) */
  readonly ratio: number;
}

export interface MeasuredBaseline {
  readonly scenario: string;
  readonly figures: readonly Figure[];
}

/**
 * Divides each Appia figure by the baseline figures it compares with (those
 * with the same key, or the keys in its `compareWith`).
 *
 * @example
 * ratios([{ key: 'closedLoop.roundTripsPerSecond', value: 6000, ... }], baselines)
 * // -> [{ figure: 'closedLoop.roundTripsPerSecond', baseline: 'ws-relay', ratio: 0.105, ... }, ...]
 */
export function ratios(appia: readonly Figure[], baselines: readonly MeasuredBaseline[]): Ratio[] {
  return appia.flatMap((figure) =>
    (figure.compareWith ?? [figure.key]).flatMap((key) =>
      baselines.flatMap((baseline) =>
        baseline.figures
          .filter((b) => b.key === key && Number.isFinite(b.value) && b.value !== 0)
          .map((b) => ({
            figure: figure.key,
            baseline: baseline.scenario,
            baselineFigure: b.key,
            baselineValue: b.value,
            ratio: figure.value / b.value,
          })),
      ),
    ),
  );
}

/** `0.42× ws-relay` */
export function formatRatio(ratio: Ratio): string {
  const r = ratio.ratio;
  const digits = r >= 10 ? 0 : r >= 1 ? 1 : r >= 0.1 ? 2 : 3;
  return `${r.toFixed(digits)}× ${ratio.baseline}`;
}
