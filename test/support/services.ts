import { connect } from 'node:net';

/**
 * The outside services some suites need (PostgreSQL, NATS), found on this
 * machine's loopback. A suite whose service is unreachable is skipped with
 * the reason printed, so a plain `npm test` passes on a machine without
 * them; under `.ci/run` (APPIA_REQUIRE_SERVICES=1) an unreachable service is
 * a failure instead.
 *
 * @example
 * const pg = await service('postgres');
 * describe('PostgreSQL store', { skip: pg.skip }, () => { ... pg.url ... });
 */
export interface FoundService {
  /** the URL to connect to (set when reachable) */
  readonly url: string;
  /** false when reachable; else the reason, for node:test's `skip` */
  readonly skip: false | string;
}

const SERVICES = {
  postgres: { env: 'APPIA_TEST_DATABASE_URL', url: 'postgres://postgres@127.0.0.1:5432/test' },
  nats: { env: 'APPIA_TEST_NATS_URL', url: 'nats://127.0.0.1:4222' },
} as const;

export type ServiceName = keyof typeof SERVICES;

export const servicesRequired = (): boolean => process.env['APPIA_REQUIRE_SERVICES'] === '1';

const found = new Map<ServiceName, Promise<FoundService>>();

/** Looks the service up once per process; throws when it is unreachable and services are required. */
export function service(name: ServiceName): Promise<FoundService> {
  let pending = found.get(name);
  if (!pending) {
    pending = probe(name);
    found.set(name, pending);
  }
  return pending;
}

async function probe(name: ServiceName): Promise<FoundService> {
  const { env, url: fallback } = SERVICES[name];
  const url = process.env[env] || fallback;
  const parsed = new URL(url);
  const port = Number(parsed.port) || (name === 'postgres' ? 5432 : 4222);
  const host = parsed.hostname || '127.0.0.1';
  const error = await reach(host, port);
  if (error === undefined) return { url, skip: false };
  const reason = `${name} is not reachable at ${host}:${port} (${error}); set ${env} to use another`;
  if (servicesRequired()) throw new Error(`${reason}. APPIA_REQUIRE_SERVICES=1, so this is a failure, not a skip`);
  process.stderr.write(`# SKIP ${name} suites: ${reason}\n`);
  return { url, skip: reason };
}

function reach(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (error: string | undefined) => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(2000, () => done('timed out'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
