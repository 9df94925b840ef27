import { clusterOneNode, clusterTwoNodes } from './appia/cluster.js';
import { appiaScenarios } from './appia/index.js';
import { mqtt } from './baselines/mqtt.js';
import { nats } from './baselines/nats.js';
import { sqlite } from './baselines/sqlite.js';
import { wsRelay } from './baselines/ws-relay.js';
import type { Scenario } from './lib/scenario.js';

/**
 * Every scenario, in run order. The baselines come first: an Appia
 * scenario's figures are divided by the baseline figures measured earlier in
 * the same run. The cluster scenarios come last and are also divided by
 * appia-e2e (the one-node SQLite figure) when it ran before them.
 */
export const scenarios: readonly Scenario[] = [wsRelay, nats, mqtt, sqlite, ...appiaScenarios, clusterOneNode, clusterTwoNodes];
