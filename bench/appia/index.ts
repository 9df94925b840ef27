import type { Scenario } from '../lib/scenario.js';
import { api } from './api.js';
import { batch } from './batch.js';
import { connections } from './connections.js';
import { endToEnd, endToEndNormal } from './e2e.js';
import { paired } from './paired.js';
import { postbacks } from './postbacks.js';

/**
 * Appia's own scenarios, run after the baselines (bench/scenarios.ts), each
 * starting its own `appia serve` process (server.ts):
 *
 * - `appia-e2e`: end to end with the baselines' shape (100 SDK devices, 200
 *   outstanding, then paced 500/s), SQLite synchronous=FULL; its closedLoop.*
 *   and paced.* figures are divided by each baseline's, and its commands/s
 *   by raw SQLite single-row commits.
 * - `appia-postbacks`: the appia-e2e load with a postBackUri on every
 *   command: commands/s, postbacks delivered/s to a loopback receiver, and
 *   the backlog's drain rate; run right after appia-e2e to compare.
 * - `appia-e2e-normal`: the same with synchronous=NORMAL.
 * - `appia-api`: the HTTP API alone under autocannon (create, GET).
 * - `appia-connections`: idle device connections held, memory per
 *   connection, one command each to all of them.
 * - `appia-batch`: one command batch to 10,000 connected devices against
 *   10,000 single creates, each timed until every completion is stored.
 * - `appia-e2e-paired`: this build's server and another's
 *   (APPIA_BENCH_PAIRED_SERVER) under the same load at the same time; the
 *   ratios compare them. Skipped without that variable.
 */
export const appiaScenarios: readonly Scenario[] = [endToEnd, postbacks, endToEndNormal, api, connections, batch, paired];
