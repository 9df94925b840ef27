import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

/** Where the app reports each answered request, and what GET /metrics serves (src/metrics implements it). */
export interface RequestMetrics {
  /** `route` is the route's pattern, never the path, so the label's values stay few */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Where JSON log lines go (a pino destination: stdout by default, pino-pretty for people, a test's capture). */
export interface LogDestination {
  write(line: string): unknown;
}

/** the route label of answers no route matched (the 404 handler), so unknown paths never become labels */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * DESIGN 7: whatever a log line carries, these never reach the log. Headers
 * with credentials, and the fields that hold tokens and secrets at the depths
 * the server's own log calls use. Request and response bodies are never
 * logged at all.
 */
const SECRET_FIELDS = ['authorization', 'cookie', 'token', 'deviceToken', 'secret', 'password'];
const REDACT = [
  ...SECRET_FIELDS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `req.headers.${key}`, `res.headers.${key}`]),
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
];

/**
 * Fastify's logger options for one JSON line per request (written by `requestLogging`), or false for no logs.
 *
 * @example
 * const app = Fastify({ logger: loggerOptions('info', process.stdout) });
 */
export function loggerOptions(level: string | undefined, destination: LogDestination | undefined): FastifyServerOptions['logger'] {
  if (!level || level === 'silent') return false;
  return {
    level,
    redact: { paths: REDACT, censor: '[Redacted]' },
    ...(destination ? { stream: destination } : {}),
  };
}

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
/** pino's level values (Appia defines no custom levels) */
const LEVEL_VALUES: Readonly<Record<string, number>> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10, silent: Infinity };

/**
 * Fastify's `childLoggerFactory`: each request's logger (its lines carry the
 * request id) is made when the request first logs at an enabled level, not
 * for every request. With redaction on, a pino child costs a serialisation
 * of its bindings through the redactor; at the benchmark's `warn` nearly no
 * request ever logs.
 */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}

class LazyChildLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  readonly #threshold: number;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
    this.#threshold = LEVEL_VALUES[options.level ?? parent.level] ?? 0;
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }

  fatal(...args: unknown[]): void {
    this.#log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#log('error', args);
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args);
  }
  info(...args: unknown[]): void {
    this.#log('info', args);
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args);
  }
  silent(): void {}

  #log(level: LevelName, args: unknown[]): void {
    if (this.#child === undefined && LEVEL_VALUES[level]! < this.#threshold) return;
    (this.#real()[level] as (...a: unknown[]) => void)(...args);
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options));
  }
}

/**
 * One hook for every answered request: its JSON log line (DESIGN 7:
 * request-id, user, route, status, duration; the user is the caller's id,
 * never their token) and its sample in the request-duration histogram.
 * Fastify's own two lines per request are turned off in buildApp.
 *
 * @example
 * requestLogging(app, metrics); // before the routes are registered
 * // {"requestId":"...","method":"GET","route":"/beta/me/devices/:deviceId","path":"/beta/me/devices/6f1d...","status":200,"durationMs":0.9,"user":"alice","msg":"request"}
 */
export function requestLogging(app: FastifyInstance, metrics: RequestMetrics | undefined): void {
  // the line is built only when it will be written (the benchmark runs at warn)
  const logRequests = ['trace', 'debug', 'info'].includes(app.log.level);
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const elapsedMs = reply.elapsedTime;
    metrics?.observeRequest(request.method, route, reply.statusCode, elapsedMs / 1000);
    if (!logRequests) return;
    const clientRequestId = request.headers['client-request-id'];
    request.log.info(
      {
        method: request.method,
        route,
        path: loggablePath(request.url),
        status: reply.statusCode,
        durationMs: Math.round(elapsedMs * 100) / 100,
        ...(request.caller ? { user: request.caller.userId } : {}),
        ...(typeof clientRequestId === 'string' ? { clientRequestId: clientRequestId.slice(0, 200) } : {}),
      },
      'request',
    );
  });
}

/** the query options whose values may hold a credential (OData's `$` options never do) */
const SECRET_PARAM = /token|secret|password|key|sig|code/i;

/**
 * The request's path and query with the values of credential-like
 * parameters blanked. A fragment is dropped: browsers never send one, and
 * the console keeps its token in `#token=`, so one sent by hand is no
 * business of the log.
 *
 * @example
 * loggablePath('/beta/me/devices?access_token=abc&$top=5#token=xyz'); // '/beta/me/devices?access_token=[Redacted]&$top=5'
 */
export function loggablePath(target: string): string {
  const hash = target.indexOf('#');
  const url = hash < 0 ? target : target.slice(0, hash);
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // an undecodable name is judged as written
      }
      return !decoded.startsWith('$') && SECRET_PARAM.test(decoded) ? `${name}=[Redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}
