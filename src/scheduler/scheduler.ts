// PLACEHOLDER (being replaced by the scheduler work).
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Engine } from '../service/engine.js';

export interface SchedulerDeps {
  readonly engine: Engine;
  readonly config: Config;
  readonly log: FastifyBaseLogger;
}

export interface Scheduler {
  close(): Promise<void>;
}

export function startScheduler(_deps: SchedulerDeps): Scheduler {
  return { async close() {} };
}
