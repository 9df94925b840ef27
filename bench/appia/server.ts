// Starting the Appia server for a scenario: `node bin/appia.js serve` in its
// own process (ProcessTracker.spawn, so it is always stopped), a user token
// from its embedded issuer, and device registration over HTTP.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { freePort, loopback, waitForPort } from '../lib/ports.js';
import type { StartedProcess } from '../lib/processes.js';
import type { ScenarioContext } from '../lib/scenario.js';
import { expectJson, HttpPool, httpRequest } from './http-client.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/**
 * APPIA_BENCH_SERVER=<another checkout>/bin/appia.js measures that build's
 * server under this build's load (the same devices and requesters): a
 * before/after comparison of the server alone. Flags that build's `serve`
 * does not know are left out (its limits did not exist, so nothing limits it).
 */
const ownBin = join(root, 'bin', 'appia.js');
const appiaBin = process.env['APPIA_BENCH_SERVER'] ?? ownBin;
const knownFlags = new Map<string, Set<string>>();

/** `args` without the flags (and their values) the server `bin` does not list in `serve --help`. */
function supportedArgs(bin: string, args: readonly string[]): string[] {
  if (bin === ownBin) return [...args];
  let known = knownFlags.get(bin);
  if (known === undefined) {
    known = new Set(execFileSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' }).match(/--[a-z][a-z-]*/g) ?? []);
    knownFlags.set(bin, known);
  }
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = args[i + 1];
    const takesValue = value !== undefined && !value.startsWith('--');
    if (!flag.startsWith('--') || known.has(flag)) kept.push(flag, ...(takesValue ? [value] : []));
    if (takesValue) i++;
  }
  return kept;
}

/**
 * Set APPIA_BENCH_CPU_PROF=<dir> to run every Appia server of the run under
 * `node --cpu-prof --cpu-prof-dir=<dir>`; the profile is written when the
 * server stops (see bench/README.md, Profiling).
 */
const cpuProfDir = process.env['APPIA_BENCH_CPU_PROF'];
/**
 * The node flags `npm start` runs the server with (package.json): a 32 MiB
 * young generation, which the bench measures because it is what ships.
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
/** node flags from a space-separated environment variable (none when unset) */
export function nodeFlagsFrom(variable: string): string[] {
  return (process.env[variable] ?? '').split(' ').filter(Boolean);
}
/** APPIA_BENCH_NODE_ARGS: more node flags for every Appia server of the run (e.g. `--import ./sampler.mjs`) */
const extraNodeArgs = nodeFlagsFrom('APPIA_BENCH_NODE_ARGS');

export interface AppiaServer {
  readonly process: StartedProcess;
  readonly pid: number;
  readonly port: number;
  readonly host: string;
  /** http://127.0.0.1:port */
  readonly url: string;
  /** a user token (scopes Device.Read Device.Command) from the server's embedded issuer */
  readonly token: string;
  /** the open-files limit the server runs with, as /proc reports it */
  readonly maxOpenFiles: number | undefined;
}

export interface AppiaServerOptions {
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** raise the server's open-files limit to this (via `ulimit -n` in a shell that execs node) */
  readonly maxOpenFiles?: number;
  /** more `appia serve` flags */
  readonly args?: readonly string[];
  /** the data folder (default: a fresh one); cluster nodes share one, and with it the issuer's key */
  readonly dataDir?: string;
  /** the process's name in the CPU notes (default `appia-server`) */
  readonly name?: string;
  /** the `bin/appia.js` to run (default: APPIA_BENCH_SERVER, else this checkout's) */
  readonly bin?: string;
  /** node flags for this server alone, after APPIA_BENCH_NODE_ARGS's */
  readonly nodeArgs?: readonly string[];
}

/**
 * `appia serve` on a free loopback port with a fresh data dir, quiet logs, no
 * rate limit and no open-commands limit (the command line), and none of
 * the per-user and connection limits (one bench user holds thousands of each).
 */
export async function startAppiaServer(context: ScenarioContext, options: AppiaServerOptions = {}): Promise<AppiaServer> {
  const port = await freePort();
  const dataDir = options.dataDir ?? context.processes.tempDir('appia');
  const bin = options.bin ?? appiaBin;
  const serveArgs = [
    bin,
    'serve',
    ...supportedArgs(bin, [
      '--port',
      String(port),
      '--data',
      dataDir,
      '--log-level',
      'warn',
      '--rate-limit',
      '0',
      '--max-open-commands',
      '0',
      // one bench user holds every device, every connection and every Prefer: wait
      '--max-devices-per-user',
      '0',
      '--max-streams-per-user',
      '0',
      '--max-connections',
      '0',
      '--sqlite-synchronous',
      options.synchronous ?? 'FULL',
      ...(options.args ?? []),
    ]),
  ];
  const nodeArgs = [...SERVE_NODE_FLAGS, ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []), ...extraNodeArgs, ...(options.nodeArgs ?? []), ...serveArgs];
  const started =
    options.maxOpenFiles === undefined
      ? context.processes.spawn(options.name ?? 'appia-server', process.execPath, nodeArgs)
      : // `exec` keeps the pid: the tracker stops node itself. Raising the hard limit needs root
        // (CAP_SYS_RESOURCE); otherwise the soft limit goes up to the hard one.
        context.processes.spawn(options.name ?? 'appia-server', '/bin/sh', [
          '-c',
          `ulimit -n ${options.maxOpenFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
          process.execPath,
          ...nodeArgs,
        ]);
  await waitForPort(port, 15_000);
  const issuer = await openEmbeddedIssuer({ dataDir });
  const token = await issuer.mint({ user: 'bench-user', ttlSeconds: 6 * 3600 });
  return {
    process: started,
    pid: started.pid,
    port,
    host: loopback,
    url: `http://${loopback}:${port}`,
    token,
    maxOpenFiles: openFilesLimit(started.pid),
  };
}

/** A device as registered: its id and its token. */
export interface RegisteredDevice {
  readonly id: string;
  readonly token: string;
}

/** Registers `count` devices of the server's user over HTTP (POST /beta/me/devices), `concurrency` at a time. */
export async function registerDevices(server: AppiaServer, count: number, concurrency = 32): Promise<RegisteredDevice[]> {
  const pool = new HttpPool(server.host, server.port, concurrency, 60_000);
  try {
    const devices: RegisteredDevice[] = new Array(count);
    const headers = { host: `${server.host}:${server.port}`, authorization: `Bearer ${server.token}` };
    await pool.forEach(count, concurrency, async (i) => {
      const body = { name: `bench device ${i}`, kind: 'Desktop', platform: 'Linux', model: 'bench', manufacturer: 'Appia' };
      const answer = expectJson(await pool.request(httpRequest('POST', '/beta/me/devices', headers, body)), 201, 'device registration');
      devices[i] = { id: answer.id, token: answer.deviceToken };
    });
    return devices;
  } finally {
    pool.close();
  }
}

/** VmRSS (or another /proc/<pid>/status field) in bytes, or undefined when it cannot be read. */
export function procStatusBytes(pid: number, field = 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The soft "Max open files" of a process (Linux /proc), or undefined. */
export function openFilesLimit(pid: number | 'self'): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!match) return undefined;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far (Linux /proc), or undefined. */
export function processSeconds(pid: number): number | undefined {
  return statSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of one thread of a process; the main thread's id is the pid (Linux /proc) */
export function threadSeconds(pid: number, tid = pid): number | undefined {
  return statSeconds(`/proc/${pid}/task/${tid}/stat`);
}

function statSeconds(path: string): number | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return undefined;
  }
}
