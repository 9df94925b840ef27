/**
 * A role is what a worker process runs (bench/worker.ts): responders, a relay
 * server... It starts, reports `info` (e.g. the port it listens on) and runs
 * until `stop()`. Options and info cross the IPC channel, so they are plain data.
 */
export interface RunningRole<Info> {
  readonly info: Info;
  stop(): Promise<void>;
}
