import type { FastifyRequest } from 'fastify';
import { AppiaError } from '../domain/errors.js';

/**
 * OData's system query options (OData 4.01, part 2, 5.1). Graph reads them
 * with or without the `$` and in any case, so Appia does too: `top=5` and
 * `$TOP=5` are `$top=5`.
 */
const SYSTEM_OPTIONS = new Set([
  'apply',
  'compute',
  'count',
  'deltatoken',
  'expand',
  'filter',
  'format',
  'index',
  'levels',
  'orderby',
  'schemaversion',
  'search',
  'select',
  'skip',
  'skiptoken',
  'top',
]);

/**
 * DESIGN 2: a query option a route does not support is 400 naming it, never
 * silently ignored. Rewrites the ones it does support to their canonical
 * `$name`, so the route's schema reads them, and refuses one given twice.
 * Other query parameters are left to the route (`?lastEventId=`).
 *
 * @example
 * checkQueryOptions(request, ['$top', '$skiptoken', '$filter']);
 */
export function checkQueryOptions(request: FastifyRequest, supported: readonly string[]): void {
  const query = request.query as Record<string, unknown> | undefined;
  if (!query) return;
  for (const name of Object.keys(query)) {
    const bare = (name.startsWith('$') ? name.slice(1) : name).toLowerCase();
    if (!name.startsWith('$') && !SYSTEM_OPTIONS.has(bare)) continue;
    const canonical = `$${bare}`;
    const shown = JSON.stringify(name.slice(0, 64));
    if (!supported.includes(canonical)) {
      const which = supported.length ? `it supports ${supported.join(', ')}` : 'it takes no query options';
      throw new AppiaError('badRequest', `the query option ${shown} is not supported on this route (${which})`);
    }
    const value = query[name];
    if (Array.isArray(value) || (name !== canonical && canonical in query)) {
      throw new AppiaError('badRequest', `the query option ${canonical} is given more than once`);
    }
    if (name !== canonical) {
      delete query[name];
      query[canonical] = value;
    }
  }
}
