import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * How the console's files are served (DESIGN 7), without a browser: the
 * security headers, a module graph with nothing missing, and nothing served
 * beyond the console's own files and the few vendored modules it imports.
 */

let appia: TestAppia;
before(async () => {
  appia = await startTestAppia();
});
after(async () => {
  await appia.stop();
});

/** A GET with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(appia.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function importMapOf(html: string): { text: string; imports: Record<string, string> } {
  const text = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
  assert.ok(text, 'the page has an import map');
  return { text, imports: JSON.parse(text).imports };
}

describe('console files', () => {
  test('the page at / carries a CSP that allows scripts from this origin and the import map only, and nosniff', async () => {
    const res = await fetch(`${appia.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const html = await res.text();
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    assert.deepEqual(directives.get('default-src'), ["'self'"]);
    const hash = createHash('sha256').update(importMapOf(html).text).digest('base64');
    assert.deepEqual(directives.get('script-src'), ["'self'", `'sha256-${hash}'`]);
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
    assert.equal(/<script(?![^>]*\b(type="importmap"|src=))/.test(html), false, 'no inline script besides the import map');
  });

  test('every module the page imports is served as JavaScript: the console\'s own and exactly the vendored files from node_modules', async () => {
    const html = await (await fetch(`${appia.url}/`)).text();
    const { imports } = importMapOf(html);
    assert.deepEqual(Object.keys(imports).sort(), ['eventsource-parser', 'htm', 'preact', 'preact/hooks']);
    for (const [specifier, url] of Object.entries(imports)) {
      const res = await fetch(appia.url + url);
      assert.equal(res.status, 200, url);
      assert.match(res.headers.get('content-type') ?? '', /javascript/, url);
      assert.equal(await res.text(), await readFile(fileURLToPath(import.meta.resolve(specifier)), 'utf8'), `${url} is ${specifier} as Node imports it`);
    }

    // Follow the module graph from the page's entry point: every static import resolves to a served module.
    const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(html)?.[1];
    assert.equal(entry, '/console/app.js');
    const seen = new Set<string>();
    const queue = [entry!];
    while (queue.length) {
      const path = queue.shift()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const res = await fetch(appia.url + path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /javascript/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      for (const [, specifier] of (await res.text()).matchAll(/(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
        queue.push(imports[specifier!] ?? new URL(specifier!, `http://x${path}`).pathname);
      }
    }
    for (const module of ['/console/app.js', '/console/api.js', '/console/sse.js', '/console/timeline.js', '/console/chart.js', ...Object.values(imports)]) {
      assert.ok(seen.has(module), `${module} is part of the page`);
    }
    for (const [path, type] of [['/console/console.css', /^text\/css/], ['/console/favicon.svg', /^image\/svg\+xml/]] as const) {
      const res = await fetch(appia.url + path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
    }
  });

  test('nothing else is served: no listing, no other file of node_modules or the package, no way out of the folder', async () => {
    for (const path of [
      '/console/',
      '/console/vendor/',
      '/console/vendor/package.json',
      '/console/vendor/preact/package.json',
      '/console/vendor/preact.mjs.map',
      '/console/vendor/../../package.json',
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e%2f%2e%2e%2fsrc%2fconfig.ts',
      '/node_modules/preact/package.json',
    ]) {
      const res = await rawGet(path);
      assert.equal(res.status, 404, `${path} answered ${res.status}`);
      assert.ok(!res.body.includes('"appia"') && !res.body.includes('"preact"'), `${path} leaked a file`);
    }
  });
});
