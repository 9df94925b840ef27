import { appiaScenarios } from './appia/index.js';
import { mqtt } from './baselines/mqtt.js';
import { nats } from './baselines/nats.js';
import { sqlite } from './baselines/sqlite.js';
import { wsRelay } from './baselines/ws-relay.js';
import type { Scenario } from './lib/scenario.js';

/**
 * Every scenario, in run order. The baselines come first: an Appia
 * scenario's figures are divided by the baseline figures measured earlier in
 * the same run.
 */
export const scenarios: readonly Scenario[] = [wsRelay, nats, mqtt, sqlite, ...appiaScenarios];
