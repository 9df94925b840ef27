import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * No import cycles in the CLI and the agent: every module can be read (and
 * loaded) on its own, dependencies first. Read from the TypeScript sources
 * (this file runs from dist/test/cli), type-only imports included.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** the relative modules a file imports or re-exports, statically or with import() */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** the CLI's and the agent's own modules (the server's are not followed) */
const ours = (file: string) => [join(SRC, 'cli'), join(SRC, 'agent')].some((dir) => file.startsWith(dir + '/'));

function findCycle(roots: readonly string[]): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'visiting') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'visiting');
    stack.push(file);
    for (const next of importsOf(file).filter(ours)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const root of roots) {
    const cycle = visit(root);
    if (cycle) return cycle;
  }
  return undefined;
}

test('the CLI and the agent import each other without a cycle', () => {
  const roots = [...modules(join(SRC, 'cli')), ...modules(join(SRC, 'agent'))];
  assert.ok(roots.some((f) => f.endsWith('follow.ts')) && roots.some((f) => f.endsWith('send.ts')));
  const cycle = findCycle(roots);
  assert.equal(cycle, undefined, `import cycle: ${cycle?.map((f) => relative(SRC, f)).join(' -> ')}`);
});
