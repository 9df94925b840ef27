// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. an Appia server
// run with APPIA_BENCH_CPU_PROF=<dir>): the top functions by self time, the
// top by inclusive time, and self time by area (a src/ folder, a package,
// node's internals, GC, idle).
//
//   node dist/bench/appia/cpuprofile-summary.js <file.cpuprofile> [--top 25] [--from-ms A --to-ms B]
//
// --from-ms/--to-ms keep only samples in that window (ms since the profile
// started), e.g. to leave out start-up and shutdown.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface Row {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

export interface Summary {
  readonly totalMs: number;
  readonly busyMs: number;
  readonly self: Row[];
  readonly inclusive: Row[];
  readonly areas: Row[];
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

function shortUrl(url: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length);
  u = u.replace(/^dist\//, '').replace(/\.js$/, '.ts');
  const nm = u.lastIndexOf('node_modules/');
  return nm >= 0 ? u.slice(nm + 'node_modules/'.length) : u;
}

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function area(frame: CallFrame): string {
  const name = frame.functionName;
  if (!frame.url) {
    if (name === '(garbage collector)' || name === '(idle)' || name === '(program)' || name === '(root)') return name;
    return `native: ${name}`; // e.g. better-sqlite3's methods, writev
  }
  const u = frame.url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = u.slice(nm + 'node_modules/'.length).split('/');
    return `pkg ${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (u.startsWith('node:')) return 'node internals';
  const rel = shortUrl(frame.url);
  const m = /^src\/([^/]+)(?:\/([^/]+)\/)?/.exec(rel);
  if (m) return `src/${m[1]}${m[2] && !m[2].endsWith('.ts') ? `/${m[2]}` : ''}`;
  return rel;
}

/** Self and inclusive time per function, and self time per area. */
export function summarise(profile: Profile, window: { fromMs?: number; toMs?: number } = {}): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  let t = 0;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const ms = t / 1000;
    if ((window.fromMs !== undefined && ms < window.fromMs) || (window.toMs !== undefined && ms > window.toMs)) continue;
    // a sample's duration is the delta to the next sample
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    totalUs += dt;
  }

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    self.set(label(frame), (self.get(label(frame)) ?? 0) + us);
    areas.set(area(frame), (areas.get(area(frame)) ?? 0) + us);
    if (frame.functionName === '(idle)') idleUs += us;
    // inclusive: every distinct function on the stack, once per sample
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const l = label(byId.get(node)!.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  const rows = (m: Map<string, number>, skip: (name: string) => boolean = () => false): Row[] =>
    [...m]
      .filter(([name]) => !skip(name))
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: us / 1000, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  const notBusy = (name: string): boolean => name === '(idle)' || name === '(root)' || name.startsWith('(program)');
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    self: rows(self, (n) => n === '(idle)'),
    inclusive: rows(inclusive, notBusy),
    areas: rows(areas, (n) => n === '(idle)'),
  };
}

function main(args: readonly string[]): void {
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: node dist/bench/appia/cpuprofile-summary.js <file.cpuprofile> [--top N] [--from-ms A] [--to-ms B]\n');
    process.exit(2);
  }
  const option = (name: string): number | undefined => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : undefined;
  };
  const top = option('--top') ?? 25;
  const fromMs = option('--from-ms');
  const toMs = option('--to-ms');
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, {
    ...(fromMs === undefined ? {} : { fromMs }),
    ...(toMs === undefined ? {} : { toMs }),
  });
  const print = (title: string, rows: readonly Row[], n: number): void => {
    console.log(`\n${title}`);
    for (const r of rows.slice(0, n)) console.log(`${r.percent.toFixed(1).padStart(6)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`);
  };
  console.log(`${file}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(summary.busyMs / 1000).toFixed(1)} s busy (percentages are of busy time)`);
  print('self time by area', summary.areas, 20);
  print(`top ${top} functions by self time`, summary.self, top);
  print(`top ${top} functions by inclusive time`, summary.inclusive, top);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
