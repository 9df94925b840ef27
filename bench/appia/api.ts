// Appia's HTTP API alone, under autocannon (in the benchmark's process; the
// server in its own): command creation for a device that is never
// connected (so each create is: verify the token, check the device, one
// group-committed insert, answer 201), then status reads (GET of one command).
import { loadavg } from 'node:os';
import autocannon, { type Result } from 'autocannon';
import { cpuSnapshot, describeCpuUse } from '../lib/cpu.js';
import type { Figure, Scenario } from '../lib/scenario.js';
import { requestBody } from '../lib/shape.js';
import { expectJson, HttpPool, httpRequest } from './http-client.js';
import { registerDevices, startAppiaServer } from './server.js';

/** autocannon connections, pipelining 1 */
const connections = 100;

export const api: Scenario = {
  name: 'appia-api',
  title: `Appia HTTP API alone (autocannon, ${connections} connections)`,
  kind: 'appia',
  async run(context) {
    const load = loadavg();
    context.progress('starting the Appia server');
    const server = await startAppiaServer(context);
    try {
      const [device] = await registerDevices(server, 1);
      const headers = { host: `${server.host}:${server.port}`, authorization: `Bearer ${server.token}` };
      const createPath = `/beta/me/devices/${device!.id}/commands`;
      const pool = new HttpPool(server.host, server.port, 1);
      const first = expectJson(await pool.request(httpRequest('POST', createPath, headers, requestBody)), 201, 'create');
      pool.close();
      const readPath = `${createPath}/${first.id}`;

      // the measured window is half the closed loop's, per run
      const durationSeconds = context.timing.measureMs / 2000;
      const warmupSeconds = context.timing.warmupMs / 1000;
      const run = async (what: string, options: { method: string; path: string; body?: string }): Promise<{ result: Result; cpu: string }> => {
        context.progress(`${what}: ${warmupSeconds} s + ${durationSeconds} s`);
        await autocannon({ url: server.url + options.path, connections, duration: warmupSeconds, method: options.method, headers: { ...headers, 'content-type': 'application/json' }, ...(options.body ? { body: options.body } : {}) });
        const watched = context.processes.list();
        const before = cpuSnapshot(watched);
        const result = await autocannon({
          url: server.url + options.path,
          connections,
          duration: durationSeconds,
          method: options.method,
          headers: { ...headers, 'content-type': 'application/json' },
          ...(options.body ? { body: options.body } : {}),
        });
        return { result, cpu: describeCpuUse(before, cpuSnapshot(watched)) };
      };

      const create = await run('create (offline device)', { method: 'POST', path: createPath, body: JSON.stringify(requestBody) });
      const read = await run('GET a command', { method: 'GET', path: readPath });

      const figures: Figure[] = [
        ...autocannonFigures('api.create', 'create (offline device)', create.result),
        ...autocannonFigures('api.get', 'GET command', read.result),
      ];
      const notes = [
        ...autocannonNotes('create', create.result, create.cpu),
        ...autocannonNotes('GET', read.result, read.cpu),
        `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
      ];
      return { figures, notes };
    } finally {
      await server.process.stop();
    }
  },
};

function autocannonFigures(key: string, label: string, result: Result): Figure[] {
  return [
    { key: `${key}.requestsPerSecond`, label: `${label} req/s`, value: result['2xx'] / result.duration, unit: '/s', better: 'higher' },
    { key: `${key}.p50Ms`, label: `${label} p50`, value: result.latency.p50, unit: 'ms', better: 'lower' },
    { key: `${key}.p99Ms`, label: `${label} p99`, value: result.latency.p99, unit: 'ms', better: 'lower' },
  ];
}

function autocannonNotes(what: string, result: Result, cpu: string): string[] {
  const notes = [`${what}: ${cpu}`];
  const failures = result.non2xx + result.errors;
  if (failures > 0) {
    const codes = Object.entries(result.statusCodeStats)
      .map(([code, { count }]) => `${code}: ${count}`)
      .join(', ');
    notes.push(`${what}: ${result.non2xx} non-2xx answers, ${result.errors} errors (${result.timeouts} timeouts); status codes ${codes}`);
  }
  return notes;
}
