import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';

/** The SDK is a client library (package export `appia/device`): it must never pull in server code. */
test('the device SDK imports nothing from the server, only its own files, node: modules and ws', async () => {
  const dir = new URL('../../../src/device/', import.meta.url);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes('index.ts'));
  for (const file of files) {
    const source = await readFile(new URL(file, dir), 'utf8');
    for (const [, specifier] of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)) {
      assert.ok(/^\.\/[\w-]+\.js$/.test(specifier!) || specifier!.startsWith('node:') || specifier === 'ws', `${file} imports ${specifier}`);
    }
  }
});
