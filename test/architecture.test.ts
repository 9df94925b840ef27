import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATUSES } from '../src/domain/status.js';

// The layout STYLE.md and DESIGN 1 ask for, checked on the sources themselves.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** the files a file imports, type-only imports included: a cycle of types tangles the design as much */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  const written = /^(?:import|export)\s+(?:[^'";]*?\s+from\s+)?'(\.[^']+)'|\bimport\s*\(\s*'(\.[^']+)'\s*\)/gm;
  for (const m of text.matchAll(written)) {
    found.push(resolve(dirname(file), (m[1] ?? m[2])!.replace(/\.js$/, '.ts')));
  }
  return found;
}

function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, imports(f).filter((i) => files.includes(i))]));
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'visiting');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'visiting') found.push([...path.slice(path.indexOf(next)), next].map((f) => relative(root, f)));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

test('there are no import cycles in src/ or bench/', () => {
  assert.deepEqual(cycles(sources('src')), []);
  assert.deepEqual(cycles(sources('bench')), []);
});

test('no source file is over 300 lines', () => {
  const long = sources('src')
    .map((f) => [relative(root, f), readFileSync(f, 'utf8').split('\n').length] as const)
    .filter(([, lines]) => lines > 300);
  assert.deepEqual(long, []);
});

test('no file outside domain/ spells the statuses out again (append-only migrations aside)', () => {
  // Names that are only statuses; completed, canceled, cancel and error are also frame types,
  // events and log levels, so for those only a comparison with a status counts.
  const onlyStatuses = STATUSES.filter((s) => !['completed', 'canceled', 'cancel', 'error'].includes(s));
  const literal = new RegExp(`'(${onlyStatuses.join('|')})'`);
  const compared = new RegExp(`status\\s*(?:===|!==|:)\\s*'(${STATUSES.join('|')})'`);
  const offenders = sources('src')
    .filter((f) => !f.includes('/src/domain/') && !f.endsWith('/migrations.ts'))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => [`${relative(root, f)}:${i + 1}`, line] as const)
        .filter(([, line]) => !/^\s*(\*|\/\/)/.test(line) && (literal.test(line) || compared.test(line))),
    );
  assert.deepEqual(offenders, []);
});

test('only the command core and the wiring reach the store and the bus', () => {
  const reaching = sources('src')
    .filter((f) => !/\/src\/(core|store|bus)\//.test(f) && !f.endsWith('/src/server.ts'))
    .filter((f) => imports(f).some((i) => /\/src\/(store|bus)\//.test(i)) || /\.(store|bus)\.\w+\(/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(root, f));
  assert.deepEqual(reaching, []);
});

test('package.json exports only files that exist', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string>; bin: Record<string, string> };
  const missing = [...Object.values(pkg.exports), ...Object.values(pkg.bin)].filter((path) => {
    try {
      readFileSync(join(root, path));
      return false;
    } catch {
      return true;
    }
  });
  assert.deepEqual(missing, []);
});

test('the benchmark runs the server with the node flags npm start runs it with', async () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const start = /^node((?: --[^ ]+)*) bin\/appia\.js serve$/.exec(pkg.scripts['start'] ?? '');
  assert.ok(start, `npm start is "node [flags] bin/appia.js serve", not ${JSON.stringify(pkg.scripts['start'])}`);
  const { SERVE_NODE_FLAGS } = await import('../bench/appia/server.js');
  assert.deepEqual(start[1]!.trim().split(' ').filter(Boolean), [...SERVE_NODE_FLAGS]);
});
