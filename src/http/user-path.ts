import type { IncomingMessage } from 'node:http';
import { AppiaError } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';

/** the user id each rewritten request named, until its caller is known */
const asked = new WeakMap<IncomingMessage, string>();

const USERS_PATH = /^\/(beta|v1\.0)\/users\/([^/?#]+)(\/[^?#]*)(\?.*)?$/i;

/**
 * DESIGN 2: `/beta/users/{id}/...` is served as `/beta/me/...` when `{id}` is
 * the caller's own user id. The URL is rewritten before routing (Fastify's
 * `rewriteUrl`), when the caller is not known yet; the id is kept with the
 * request and `checkAskedUser` compares it once the token is verified.
 *
 * @example
 * Fastify({ rewriteUrl: rewriteUserPath });
 */
export function rewriteUserPath(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const m = USERS_PATH.exec(url);
  if (!m) return url;
  let id: string;
  try {
    id = decodeURIComponent(m[2]!);
  } catch {
    return url; // not a user id any route would serve: the not-found answer
  }
  asked.set(req, id);
  return `/${m[1]}/me${m[3]}${m[4] ?? ''}`;
}

/**
 * A 404 (DESIGN 2: as for anything of another user, so nothing leaks) unless
 * the user id in the path is the caller's own; ids that are GUIDs (Entra ID's
 * `oid`) match in any case.
 */
export function checkAskedUser(req: IncomingMessage, callerId: string): void {
  const id = asked.get(req);
  if (id === undefined || id === callerId) return;
  if (isUuid(id) && isUuid(callerId) && id.toLowerCase() === callerId.toLowerCase()) return;
  throw new AppiaError('notFound', 'no such user');
}
