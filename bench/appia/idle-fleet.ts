// What appia-connections and appia-batch share: many idle device connections from raw `ws`
// clients in worker processes, each bound to its own 127.0.0.x source address so that no single
// address runs out of ephemeral ports, on a server whose open-files limit is raised for them.
import type { StartedWorker } from '../lib/processes.js';
import type { ScenarioContext } from '../lib/scenario.js';
import type { IdleStats } from './devices.js';
import { type AppiaServer, openFilesLimit, type RegisteredDevice } from './server.js';

/** ephemeral ports are 32768-60999 by default: stay well inside one source address's share */
const maxPerSourceAddress = 25_000;
/** handshakes in flight over all workers (the server's accept backlog is 511) */
const dialConcurrency = 400;
/** HTTP requests in flight while registering devices and creating commands */
export const httpConcurrency = 64;
/** open files the server needs beyond one per connection (database, log, HTTP clients...) */
const serverSpareFiles = 4096;

/** the open-files limit to ask the server for, to hold `asked` connections */
export const serverOpenFiles = (asked: number): number => asked + serverSpareFiles;

export interface FleetPlan {
  /** how many devices: as asked, or as many as the server's open-files limit allows */
  readonly count: number;
  readonly workers: number;
  /** devices per client worker at most: one source address's ports, within this process's open-files limit (the workers inherit it) */
  readonly perWorker: number;
  /** this process's open-files limit */
  readonly ownLimit: number;
  /** the server's open-files limit (infinite when unknown) */
  readonly serverLimit: number;
}

/** How many of `asked` devices the server can hold, and over how many client workers. */
export function planFleet(asked: number, server: AppiaServer): FleetPlan {
  const ownLimit = openFilesLimit('self') ?? 1024;
  const perWorker = Math.max(1, Math.min(maxPerSourceAddress, ownLimit - 256));
  // Raising a hard limit needs CAP_SYS_RESOURCE; without it the server gets the hard limit, and holds that many at most.
  const serverLimit = server.maxOpenFiles ?? Number.POSITIVE_INFINITY;
  const count = Math.min(asked, serverLimit - serverSpareFiles / 16);
  return { count, workers: Math.ceil(count / perWorker), perWorker, ownLimit, serverLimit };
}

/**
 * Starts the idle-device workers for `devices`: worker w takes devices
 * [w*size, (w+1)*size) on source address 127.0.0.(2+w). Each is pushed to
 * `started` as it starts, so the caller's cleanup stops those that did.
 */
export async function startIdleWorkers(
  context: ScenarioContext,
  server: AppiaServer,
  devices: readonly RegisteredDevice[],
  workers: number,
  started: StartedWorker<'appia-idle-devices'>[],
  options: { readonly name: string; readonly complete?: boolean },
): Promise<void> {
  const size = Math.ceil(devices.length / workers);
  const url = `ws://${server.host}:${server.port}/devices/connect`;
  for (let w = 0; w < workers; w++) {
    const idle = {
      url,
      tokens: devices.slice(w * size, (w + 1) * size).map((d) => d.token),
      localAddress: `127.0.0.${2 + w}`,
      concurrency: Math.max(32, Math.floor(dialConcurrency / workers)),
      ...(options.complete ? { complete: true } : {}),
    };
    started.push(await context.processes.startWorker('appia-idle-devices', idle, `${options.name}-${w}`));
  }
}

export function sum(stats: readonly IdleStats[], field: 'connected' | 'failed' | 'received' | 'closed' | 'completed'): number {
  return stats.reduce((total, s) => total + s[field], 0);
}
