import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** CPU time used so far by this process, the benchmark's children and the whole machine (Linux /proc). */
export interface CpuSnapshot {
  readonly at: number;
  /** seconds of CPU per process name */
  readonly processes: ReadonlyMap<string, number>;
  /** seconds the machine's CPUs were busy (any process), or undefined off Linux */
  readonly machineBusy?: number;
}

const ticksPerSecond = 100; // USER_HZ, 100 on every Linux build in practice

export function cpuSnapshot(children: readonly { name: string; pid: number }[]): CpuSnapshot {
  const processes = new Map<string, number>();
  const usage = process.cpuUsage();
  processes.set('bench (requesters)', (usage.user + usage.system) / 1e6);
  for (const { name, pid } of children) {
    const seconds = processSeconds(pid);
    if (seconds !== undefined) processes.set(processes.has(name) ? `${name} ${pid}` : name, seconds);
  }
  const machineBusy = machineBusySeconds();
  return { at: performance.now(), processes, ...(machineBusy === undefined ? {} : { machineBusy }) };
}

/**
 * "cores used: bench 0.93, ws-relay-server 0.71, ws-responders 0.40; machine 1.98 of 2":
 * shows which process is the bottleneck, and whether other work on the
 * machine shared the CPUs during the measurement.
 */
export function describeCpuUse(before: CpuSnapshot, after: CpuSnapshot): string {
  const seconds = (after.at - before.at) / 1000;
  const parts = [...after.processes].flatMap(([name, used]) => {
    const start = before.processes.get(name);
    return start === undefined ? [] : [`${name} ${((used - start) / seconds).toFixed(2)}`];
  });
  const machine =
    before.machineBusy !== undefined && after.machineBusy !== undefined
      ? `; machine ${((after.machineBusy - before.machineBusy) / seconds).toFixed(2)} of ${cpus().length}`
      : '';
  return `cores used: ${parts.join(', ')}${machine}`;
}

function processSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that ends the command name; utime and stime are the 14th and 15th fields
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [, ...values] = line.trim().split(/\s+/);
    const ticks = values.map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = ticks[3] + (ticks[4] ?? 0); // idle + iowait
    return (total - idle) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** Processes of this name (Linux /proc), e.g. a server the benchmark uses but did not start. */
export function findProcesses(name: string): { name: string; pid: number }[] {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .flatMap((entry) => {
        try {
          return readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name ? [{ name, pid: Number(entry) }] : [];
        } catch {
          return []; // gone meanwhile
        }
      });
  } catch {
    return [];
  }
}
