import type { FastifyRequest } from 'fastify';
import { AppiaError } from '../domain/errors.js';
import { DEVICE_STATUSES, type DeviceStatus } from '../domain/device.js';
import { parseStatus, type Status } from '../domain/status.js';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** `$top`: a whole number from 1; larger than MAX_PAGE is served as MAX_PAGE pages. */
export function parseTop(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PAGE;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new AppiaError('badRequest', `$top must be a whole number of at least 1 (got ${JSON.stringify(text)})`);
  return Math.min(Number(text), MAX_PAGE);
}

/** `$filter=status eq 'completed'` is the one filter the command list supports. */
export function parseStatusFilter(text: string | undefined): Status | undefined {
  return parseEqFilter(text, parseStatus, 'a command status');
}

/** `$filter=status eq 'Online'` is the one filter the device list supports (DESIGN 2: device `status`). */
export function parseDeviceStatusFilter(text: string | undefined): DeviceStatus | undefined {
  return parseEqFilter(text, (v) => DEVICE_STATUSES.find((s) => s.toLowerCase() === v.toLowerCase()), `a device status (${DEVICE_STATUSES.join(', ')})`);
}

function parseEqFilter<T>(text: string | undefined, parse: (value: string) => T | undefined, what: string): T | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*status\s+eq\s+'([^']*)'\s*$/i.exec(text);
  if (!m) {
    const property = /^\s*([A-Za-z_][\w/]*)/.exec(text)?.[1];
    const named = property && property.toLowerCase() !== 'status' ? ` (it cannot filter on ${property.slice(0, 64)})` : '';
    throw new AppiaError('badRequest', `$filter supports only status eq '<status>' here${named}`);
  }
  const value = parse(m[1]!);
  if (value === undefined) throw new AppiaError('badRequest', `$filter names an unknown status ${JSON.stringify(m[1]!.slice(0, 64))}: it must be ${what}`);
  return value;
}

/**
 * `$expand=responsepayload` (DESIGN 2: Graph's beta model names the device's
 * answer as that navigation property): true when asked for; anything else
 * to expand is 400 naming it.
 */
export function parseExpand(text: string | undefined): boolean {
  if (text === undefined) return false;
  for (const item of text.split(',')) {
    if (item.trim().toLowerCase() !== 'responsepayload') {
      throw new AppiaError('badRequest', `$expand supports only responsepayload (got ${JSON.stringify(item.trim().slice(0, 64))})`);
    }
  }
  return true;
}

/** A URL-safe `$skiptoken` carrying the position of the next page. */
export function encodeSkipToken(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeSkipToken<T extends Record<string, unknown>>(token: string | undefined, check: (v: Record<string, unknown>) => v is T): T | undefined {
  if (token === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (value && typeof value === 'object' && check(value as Record<string, unknown>)) return value as T;
  } catch {
    // falls through to the error below
  }
  throw new AppiaError('badRequest', '$skiptoken is not one this server issued');
}

/** The scheme and host the client used, or APPIA_PUBLIC_URL behind a proxy (DESIGN 2). */
export function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}

/** The canonical URL of `path` (`/me/devices/...`) on the version (`beta`, `v1.0`) and host the client used: a `Location`. */
export function graphUrl(request: FastifyRequest, publicUrl: string | null, path: string): string {
  const version = /^\/v1\.0\//i.test(request.url) ? 'v1.0' : 'beta';
  return `${baseUrl(request, publicUrl)}/${version}${path}`;
}

/** `@odata.nextLink`: the request's own URL with `$skiptoken` replaced, `$` left as Graph writes it. */
export function nextLink(request: FastifyRequest, publicUrl: string | null, skipToken: string): string {
  const [path, query = ''] = request.url.split('?', 2) as [string, string?];
  const kept = query.split('&').filter((p) => p !== '' && !/^(\$|%24)skiptoken=/i.test(p));
  kept.push(`$skiptoken=${skipToken}`);
  return `${baseUrl(request, publicUrl)}${path}?${kept.join('&')}`;
}
