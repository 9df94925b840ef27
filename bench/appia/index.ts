import type { Scenario } from '../lib/scenario.js';

/**
 * Appia's own scenarios, run after the baselines (bench/scenarios.ts). Not
 * written yet; planned, each a `Scenario` of kind 'appia' in its own file here:
 *
 * - end-to-end: start the server (ProcessTracker.spawn / startWorker) and
 *   `shape.responders` devices, then `measureRequestReply(context, send)` with
 *   `send(target)` = create a command for device `target` with `Prefer: wait`
 *   and resolve on its final status. Its figures carry the same keys as the
 *   baselines' (closedLoop.*, paced.*), so the table divides them by each baseline.
 * - api: the HTTP API alone under autocannon.
 * - connections: idle device connections held, memory per connection.
 * - durability: durable commands/s; a figure with
 *   `compareWith: ['sqlite.fullCommitsPerSecond']` is divided by the raw SQLite figure.
 */
export const appiaScenarios: readonly Scenario[] = [];
