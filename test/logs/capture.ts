import type { LogDestination } from '../../src/http/observability.js';

/** One parsed log line (pino's JSON). */
export type LogLine = Record<string, unknown> & { level: number; time: number; msg?: string };

/**
 * A log destination for a test: keeps every line as written, and lets the
 * test await a line instead of sleeping (the server logs device connects,
 * disconnects and shutdown as they happen).
 */
export class LogCapture implements LogDestination {
  readonly text: string[] = [];
  readonly lines: LogLine[] = [];
  #waiting: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  write(line: string): void {
    this.text.push(line);
    const parsed = JSON.parse(line) as LogLine;
    this.lines.push(parsed);
    this.#waiting = this.#waiting.filter((w) => (w.match(parsed) ? (w.resolve(parsed), false) : true));
  }

  /** the first line from now on (or already written, when `past`) that matches */
  next(match: (line: LogLine) => boolean, past = false): Promise<LogLine> {
    const seen = past ? this.lines.find(match) : undefined;
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiting.push({ match, resolve }));
  }

  /** every byte written, for greps */
  all(): string {
    return this.text.join('');
  }
}
