import type { FastifyInstance } from 'fastify';
import { AppiaError } from '../domain/errors.js';
import { parseStrictJson } from '../domain/strict-json.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * DESIGN 2: JSON in, UTF-8 only, numbers exact. Replaces Fastify's JSON
 * parser: a declared charset other than UTF-8, bytes that are not UTF-8,
 * and JSON the strict parser refuses are 400 naming the problem, so no body
 * is ever stored altered. An empty body is no body (a POST that takes none,
 * such as cancel, may still declare JSON).
 */
export function acceptJsonBodies(app: FastifyInstance, maxJsonDepth: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const charset = declaredCharset(request.headers['content-type']);
      if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
        throw new AppiaError('badRequest', `the body is declared as charset=${charset.slice(0, 40)}: send it as UTF-8 (charset=utf-8)`);
      }
      const bytes = body as Buffer;
      let text: string;
      try {
        text = utf8.decode(bytes);
      } catch {
        throw new AppiaError('badRequest', 'the request body is not valid UTF-8');
      }
      done(null, text.trim() === '' ? undefined : parseStrictJson(text, { maxDepth: maxJsonDepth }));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** the `charset` parameter of a Content-Type, if any (RFC 9110 8.3.1; the value may be quoted) */
function declaredCharset(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? '') : undefined;
}
