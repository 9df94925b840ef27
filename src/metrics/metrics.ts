import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import { isFinal } from '../domain/policy.js';
import type { CoreObserver } from '../core/context.js';

/** What the node's gauges read when Prometheus scrapes (set once the parts exist: the gateway comes after the core). */
export interface MetricsSources {
  /** devices connected to this node */
  connectedDevices(): number;
  /** pending postbacks in the outbox, on every node */
  postbackDepth(): Promise<number>;
  /**
   * Failed postback attempts of this node so far (each retry counts): the
   * postback dispatcher's `stats().failures`. Without it the counter stays 0.
   */
  postbackFailures?(): Promise<number>;
}

/** seconds from create to final: commands may wait for an offline device for hours */
const COMMAND_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400];
/** seconds per request: loopback answers take about a millisecond; `Prefer: wait` holds up to 60 s */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * One node's Prometheus metrics (DESIGN 7) in a registry of its own, so two
 * nodes in one process never share counters. The core reports changes
 * through `observer`; the HTTP app through `observeRequest`; gauges read
 * their `sources` on each scrape.
 *
 * @example
 * const metrics = new AppiaMetrics();
 * const core = new CommandCore({ store, bus, timings, log, observer: metrics.observer });
 * metrics.readFrom({ connectedDevices: () => gateway.connectedDevices, postbackDepth: () => core.postbackDepth() });
 * const { contentType, body } = await metrics.scrape();
 */
export class AppiaMetrics {
  readonly registry = new Registry();
  readonly observer: CoreObserver;
  readonly #http: Histogram<'method' | 'route' | 'status_code'>;
  #sources: MetricsSources | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const created = new Counter({ name: 'appia_commands_created_total', help: 'Commands stored as new on this node', registers });
    const final = new Counter({ name: 'appia_commands_final_total', help: 'Commands that reached a final status on this node', labelNames: ['status'], registers });
    const duration = new Histogram({
      name: 'appia_command_duration_seconds',
      help: 'Time from a command being created to its final status',
      buckets: COMMAND_BUCKETS,
      registers,
    });
    this.#http = new Histogram({
      name: 'appia_http_request_duration_seconds',
      help: 'HTTP requests answered by this node, by route pattern',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    const sources = (): MetricsSources | undefined => this.#sources;
    new Gauge({
      name: 'appia_devices_connected',
      help: 'Devices with a live connection to this node',
      registers,
      collect() {
        this.set(sources()?.connectedDevices() ?? 0);
      },
    });
    new Gauge({
      name: 'appia_postback_outbox_depth',
      help: 'Postbacks waiting in the outbox, on every node',
      registers,
      async collect() {
        this.set((await sources()?.postbackDepth()) ?? 0);
      },
    });
    let failuresSeen = 0;
    new Counter({
      name: 'appia_postback_failures_total',
      help: 'Failed postback attempts of this node (each retry counts)',
      registers,
      async collect() {
        const failures = (await sources()?.postbackFailures?.()) ?? failuresSeen;
        if (failures > failuresSeen) this.inc(failures - failuresSeen);
        failuresSeen = Math.max(failuresSeen, failures);
      },
    });

    this.observer = {
      created: () => created.inc(),
      changed: (command: CommandRecord, history: HistoryEntry) => {
        if (!isFinal(history.status)) return;
        final.inc({ status: history.status });
        duration.observe(Math.max(0, history.at - command.createdAt) / 1000);
      },
    };
  }

  /** the gauges' sources, once the parts they read exist */
  readFrom(sources: MetricsSources): void {
    this.#sources = sources;
  }

  /** one answered request; `route` is the route's pattern (bounded), never the path */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.#http.observe({ method, route, status_code: statusCode }, seconds);
  }

  /** the text exposition format for GET /metrics */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
