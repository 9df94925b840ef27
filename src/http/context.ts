import type { CommandCore } from '../core/core.js';
import type { LogDestination, RequestMetrics } from './observability.js';
import type { PostbackTargets } from '../postback/address-guard.js';
import type { HoldLimiter } from './holds.js';

/** Who is calling (DESIGN 5), as the routes see it: the user and the token's delegated scopes. */
export interface Caller {
  readonly userId: string;
  readonly scopes: ReadonlySet<string>;
}

/** Turns an Authorization header into a Caller, or throws AppiaError invalidToken / forbidden. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Caller>;
}

/** The embedded issuer's public documents, when it is on. */
export interface WellKnown {
  discovery(baseUrl: string): object;
  jwks(): object;
}

export interface AppDeps {
  readonly core: CommandCore;
  readonly auth: Authenticator;
  readonly wellKnown?: WellKnown;
  /** DESIGN 7: request timings go here, and GET /metrics serves it */
  readonly metrics?: RequestMetrics;
  /** where log lines go (default stdout) */
  readonly logDestination?: LogDestination;
  /** where postbacks may go: APPIA_POSTBACK_ALLOW, parsed once at start (absent: only https to public addresses, DESIGN 6) */
  readonly postbackTargets?: PostbackTargets;
  /** the clock of the per-second limits (DESIGN 8); default Date.now */
  readonly now?: () => number;
}

export interface AppConfig {
  readonly publicUrl: string | null;
  readonly maxBodyBytes: number;
  readonly maxPayloadBytes: number;
  readonly maxJsonDepth: number;
  readonly rateLimit: number;
  readonly logLevel?: string;
  /** DESIGN 8 (0 = off for each): a request's headers and body must arrive within this, else 408 */
  readonly requestTimeoutMs?: number;
  /** failed authentications per second per client address, then 429 before any signature check */
  readonly authFailureLimit?: number;
  /** open event streams plus `Prefer: wait` holds per user, then 429 */
  readonly maxStreamsPerUser?: number;
  /** concurrent connections to the port; more are dropped */
  readonly maxConnections?: number;
}

/** DESIGN 2: the scopes a route needs, any one of them; declared in each route's config and checked in one hook (app.ts). */
export const SCOPES = {
  read: ['Device.Read', 'Device.Command'],
  command: ['Device.Command'],
} as const;

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** the scopes the route needs, any one of them (SCOPES) */
    scopes?: readonly string[];
    /** the OData query options the route supports (`$top`, ...); any other is 400 (query-options.ts) */
    query?: readonly string[];
  }
  interface FastifyInstance {
    /** event streams and `Prefer: wait` holds per user (DESIGN 8) */
    holds: HoldLimiter;
  }
}
