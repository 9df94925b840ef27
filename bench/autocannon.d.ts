// The part of autocannon's programmatic API the benchmark uses (the package
// ships no types). See node_modules/autocannon/README.md, "API".
declare module 'autocannon' {
  export interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly stddev: number;
    readonly min: number;
    readonly max: number;
    readonly total: number;
    readonly p50: number;
    readonly p90: number;
    readonly p97_5: number;
    readonly p99: number;
    readonly p99_9: number;
  }

  export interface Options {
    readonly url: string;
    readonly connections?: number;
    /** seconds */
    readonly duration?: number;
    readonly amount?: number;
    readonly pipelining?: number;
    /** seconds */
    readonly timeout?: number;
    readonly method?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: string | Buffer;
    readonly warmup?: { readonly connections?: number; readonly duration?: number };
  }

  export interface Result {
    readonly requests: Histogram;
    /** milliseconds */
    readonly latency: Histogram;
    readonly throughput: Histogram;
    /** seconds */
    readonly duration: number;
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
    readonly '2xx': number;
    readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>;
  }

  export interface Instance extends Promise<Result> {
    stop(): void;
  }

  export default function autocannon(options: Options): Instance;
}
