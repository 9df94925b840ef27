import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * The browser ES modules the console imports (its import map names them),
 * each resolved as Node would import it. Only these files of node_modules
 * are ever served.
 */
const VENDOR: Readonly<Record<string, string>> = {
  'preact.mjs': 'preact',
  'preact-hooks.mjs': 'preact/hooks',
  'htm.mjs': 'htm',
  'eventsource-parser.js': 'eventsource-parser',
};

/** Where the console's files are: src/console in the package, read at run time (this file runs from dist/src/http/routes). */
const CONSOLE_DIR = new URL('../../../../src/console/', import.meta.url);

export interface ConsoleOptions {
  /** the folder holding index.html and the console's modules (default: the package's src/console) */
  readonly root?: URL;
}

/**
 * DESIGN 7: the web console at `/`. Serves `index.html` at `/`, the
 * console's own files under `/console/`, and the few vendored ES modules
 * under `/console/vendor/`. Every answer carries a content security policy
 * that allows only this origin's scripts, plus the hash of the page's one
 * inline import map, so no other inline script can run.
 *
 * @example
 * app.register(consoleRoutes());
 * // GET /            -> the console (index.html)
 * // GET /console/app.js, /console/vendor/preact.mjs, ...
 */
export function consoleRoutes(options: ConsoleOptions = {}): FastifyPluginAsync {
  const root = fileURLToPath(options.root ?? CONSOLE_DIR);
  const vendorFiles = new Map(Object.entries(VENDOR).map(([name, specifier]) => [name, fileURLToPath(import.meta.resolve(specifier))]));

  return async (app) => {
    app.addHook('onSend', async (_request, reply) => {
      if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', contentSecurityPolicy(''));
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      // The files change with each release and are small: revalidate (ETag) instead of caching blindly.
      reply.header('cache-control', 'no-cache');
    });

    await app.register(fastifyStatic, {
      root,
      prefix: '/console/',
      // Only the files present at start get routes: no wildcard, no listing, no index, no dotfiles.
      wildcard: false,
      index: false,
      list: false,
      dotfiles: 'ignore',
      globIgnore: ['index.html'],
      cacheControl: false,
    });

    app.get('/', async (_request, reply) => {
      const html = await readFile(join(root, 'index.html'), 'utf8');
      reply.header('content-security-policy', contentSecurityPolicy(inlineScriptHashes(html)));
      return reply.type('text/html; charset=utf-8').send(html);
    });

    for (const [name, file] of vendorFiles) {
      app.get(`/console/vendor/${name}`, (_request, reply: FastifyReply) => reply.sendFile(basename(file), dirname(file)));
    }
  };
}

/** `default-src 'self'`; scripts only from this origin, except the import map whose hash is given. */
function contentSecurityPolicy(scriptHashes: string): string {
  return [
    "default-src 'self'",
    `script-src 'self'${scriptHashes}`,
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The CSP hashes of the page's inline `<script type="importmap">` blocks:
 * browsers load no external import maps, and a hash allows exactly that text.
 */
function inlineScriptHashes(html: string): string {
  let hashes = '';
  for (const match of html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)) {
    hashes += ` 'sha256-${createHash('sha256').update(match[1]!).digest('base64')}'`;
  }
  return hashes;
}
