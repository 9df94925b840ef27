import type { AppiaNode } from './node.js';

/** the settings every node runs with: short timers, so a run settles in seconds, and postbacks to loopback */
export const NODE_FLAGS = [
  '--rate-limit', '0',
  '--max-open-commands', '0',
  '--auth-failure-limit', '0',
  '--postback-allow', '127.0.0.1/32',
  '--receipt-timeout-ms', '5000',
  '--retry-base-ms', '200',
  '--max-attempts', '30',
  '--ping-interval-ms', '5000',
];

/** One phase's world: its nodes (one, or a cluster), and what else its faults can reach. */
export interface World {
  readonly name: string;
  readonly dataDir: string;
  readonly nodes: readonly AppiaNode[];
  /** the faults of this world beyond the common ones (device cuts, device kills, the receiver) */
  readonly faults: readonly Fault[];
  close(): Promise<void>;
}

export interface Fault {
  readonly kind: string;
  readonly kill: boolean;
  run(): Promise<void>;
}

