import type { Figure } from './scenario.js';

const widths = { scenario: 11, figure: 30, value: 11, unit: 4 } as const;

/** The table printed as the benchmark goes: one row per figure. */
export class Table {
  constructor(
    private readonly write: (line: string) => void,
    /** a last column of Appia / baseline ratios (only when Appia scenarios run) */
    private readonly withRatios: boolean,
  ) {}

  header(): void {
    const ratio = this.withRatios ? '  Appia / baseline' : '';
    const line = `${'scenario'.padEnd(widths.scenario)} ${'figure'.padEnd(widths.figure)} ${'value'.padStart(widths.value)} ${'unit'.padEnd(widths.unit)}${ratio}`;
    this.write(line);
    this.write('-'.repeat(line.length + (this.withRatios ? 20 : 0)));
  }

  row(scenario: string, figure: Figure, ratios: readonly string[] = []): void {
    const ratio = this.withRatios && ratios.length > 0 ? `  ${ratios.join(', ')}` : '';
    this.write(
      `${scenario.padEnd(widths.scenario)} ${figure.label.padEnd(widths.figure)} ${formatValue(figure.value).padStart(widths.value)} ${figure.unit.padEnd(widths.unit)}${ratio}`.trimEnd(),
    );
  }

  note(scenario: string, text: string): void {
    this.write(`${scenario.padEnd(widths.scenario)} ${text}`);
  }
}

/** 57,312 / 412.5 / 3.42 / 0.181 */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}
