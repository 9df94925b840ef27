/** Human output of the CLI: aligned tables and short JSON. `--json` output bypasses this. */

export type Cell = string | number | boolean | null | undefined;

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

export function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value);
}

/** JSON on one line when short, else indented (continuation lines indented by `indent`). */
export function compactJson(value: unknown, indent = ''): string {
  const line = JSON.stringify(value);
  if (line === undefined) return '-';
  if (line.length <= 100) return line;
  return JSON.stringify(value, null, 2).split('\n').join(`\n${indent}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Strips OData annotations (`@odata.context`) from an entity for display. */
export function withoutAnnotations<T extends Record<string, unknown>>(entity: T): T {
  return Object.fromEntries(Object.entries(entity).filter(([key]) => !key.startsWith('@odata.'))) as T;
}
