import { escapeControl, terminalSafeJson } from './terminal-text.js';

/**
 * Human output of the CLI: aligned tables and short JSON. Every cell is
 * printed through `escapeControl` (DESIGN 4), since most of what the CLI
 * shows came from a server or a device. `--json` output goes through
 * `printJson`, which keeps it valid JSON and free of raw control characters.
 */

/** Text the CLI has already made safe to print (the output of {@link compactJson}). */
export class Rendered {
  constructor(readonly text: string) {}
}

export type Cell = string | number | boolean | null | undefined | Rendered;

/** An aligned text table with a header row; empty cells show as `-`. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => headers.map((_, i) => cellText(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...text.map(line)].join('\n');
}

/** `label  value` lines with the labels aligned. */
export function fields(entries: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `${label.padEnd(width)}  ${cellText(value)}`).join('\n');
}

/** A cell as printed: control characters escaped, empty as `-`. */
export function cellText(value: Cell): string {
  if (value instanceof Rendered) return value.text;
  if (value === null || value === undefined || value === '') return '-';
  return escapeControl(String(value));
}

/**
 * JSON on one line when short, else indented (continuation lines indented
 * by `indent`). The line breaks are JSON's own; a line break inside a
 * string is JSON's `\n` escape.
 */
export function compactJson(value: unknown, indent = ''): Rendered {
  const line = JSON.stringify(value);
  if (line === undefined) return new Rendered('-');
  if (line.length <= 100) return new Rendered(escapeControl(line));
  const lines = JSON.stringify(value, null, 2).split('\n');
  return new Rendered(lines.map((l) => escapeControl(l)).join(`\n${indent}`));
}

/** `--json` output: indented JSON, DEL and C1 characters as `\u` escapes. */
export function printJson(value: unknown): void {
  process.stdout.write(terminalSafeJson(JSON.stringify(value, null, 2)) + '\n');
}

/** Strips OData annotations (`@odata.context`) from an entity for display. */
export function withoutAnnotations<T extends Record<string, unknown>>(entity: T): T {
  return Object.fromEntries(Object.entries(entity).filter(([key]) => !key.startsWith('@odata.'))) as T;
}
