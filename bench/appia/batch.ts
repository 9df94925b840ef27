// One command to a whole fleet (DESIGN 9): N connected devices (lightweight
// raw `ws` clients that answer `received` and `completed` at once), sent one
// command each as N single creates over HTTP, then the same command as one
// batch, in the same run on the same server. Each is timed until the server
// has acked every device's `completed` (so every completion is stored).
import { loadavg } from 'node:os';
import { cpuSnapshot, describeCpuUse } from '../lib/cpu.js';
import type { StartedWorker } from '../lib/processes.js';
import type { Figure, Mode, Scenario } from '../lib/scenario.js';
import { requestBody } from '../lib/shape.js';
import { sleep } from '../lib/time.js';
import { idleControl, wallClock } from './devices.js';
import { expectJson, HttpPool, httpRequest } from './http-client.js';
import { httpConcurrency, planFleet, serverOpenFiles, startIdleWorkers, sum } from './idle-fleet.js';
import { registerDevices, startAppiaServer } from './server.js';

/** devices per mode; APPIA_BENCH_BATCH_DEVICES=<n> overrides */
const devicesPerMode: Readonly<Record<Mode, number>> = { smoke: 100, quick: 10_000, full: 10_000 };

export const batch: Scenario = {
  name: 'appia-batch',
  title: 'Appia: one batch to N connected devices vs N single creates',
  kind: 'appia',
  async run(context) {
    const load = loadavg();
    const asked = Number(process.env['APPIA_BENCH_BATCH_DEVICES'] ?? devicesPerMode[context.mode]);
    if (!Number.isInteger(asked) || asked < 1) throw new Error('APPIA_BENCH_BATCH_DEVICES must be a positive whole number');
    const notes: string[] = [];
    // The client workers inherit this process's open-files limit; the server's is raised as far as it can be.
    context.progress(`starting the Appia server (asking for an open-files limit of ${serverOpenFiles(asked)})`);
    const server = await startAppiaServer(context, { maxOpenFiles: serverOpenFiles(asked), args: ['--max-batch-devices', '0'] });
    const { count, workers, perWorker, ownLimit } = planFleet(asked, server);
    notes.push(
      `devices: ${count} (asked ${asked}); open files: the server runs with ${server.maxOpenFiles ?? 'an unknown limit'}, ` +
        `the benchmark with ${ownLimit} (${workers} client worker(s) of <= ${perWorker})`,
    );
    const started: StartedWorker<'appia-idle-devices'>[] = [];
    const pool = new HttpPool(server.host, server.port, httpConcurrency, 120_000);
    try {
      context.progress(`registering ${count.toLocaleString('en-US')} devices`);
      const devices = await registerDevices(server, count, httpConcurrency);
      await startIdleWorkers(context, server, devices, workers, started, { name: 'appia-batch-devices', complete: true });
      context.progress(`connecting ${count.toLocaleString('en-US')} devices`);
      const connected = await Promise.all(started.map((w) => idleControl(w.info.controlPort, '/connect', 'POST')));
      const connectedCount = sum(connected, 'connected');
      if (connectedCount < count) notes.push(`only ${connectedCount} of ${count} devices connected (first error: ${connected.find((s) => s.firstError)?.firstError})`);
      // each connection's presence write and open-commands read happen after the handshake
      await sleep(Math.min(3000, 500 + count / 100));
      const headers = { host: `${server.host}:${server.port}`, authorization: `Bearer ${server.token}` };
      const allCompleted = async (expect: number[]) =>
        Promise.all(started.map((w, i) => idleControl(w.info.controlPort, `/completed?expect=${expect[i]}&timeoutMs=120000`)));

      // 1. N single creates, `httpConcurrency` in flight
      context.progress(`${count.toLocaleString('en-US')} single creates`);
      let cpu = cpuSnapshot(context.processes.list());
      const singlesStart = wallClock();
      await pool.forEach(devices.length, httpConcurrency, async (i) => {
        expectJson(await pool.request(httpRequest('POST', `/beta/me/devices/${devices[i]!.id}/commands`, headers, JSON.stringify(requestBody))), 201, 'create');
      });
      const singlesCreated = wallClock();
      const afterSingles = await allCompleted(connected.map((s) => s.connected));
      const singlesSeconds = (Math.max(...afterSingles.map((s) => s.lastCompletedAt ?? NaN)) - singlesStart) / 1000;
      notes.push(
        `single creates: the ${count} POSTs took ${((singlesCreated - singlesStart) / 1000).toFixed(2)} s, every completion stored after ${singlesSeconds.toFixed(2)} s; ` +
          describeCpuUse(cpu, cpuSnapshot(context.processes.list())),
      );
      await sleep(500);

      // 2. one batch to all of them
      context.progress(`one batch to ${count.toLocaleString('en-US')} devices`);
      cpu = cpuSnapshot(context.processes.list());
      const batchStart = wallClock();
      const created = expectJson(await pool.request(httpRequest('POST', '/beta/me/commandBatches', headers, JSON.stringify({ all: true, ...requestBody }))), 201, 'batch');
      const batchCreated = wallClock();
      const afterBatch = await allCompleted(afterSingles.map((s) => s.completed + s.connected));
      const batchSeconds = (Math.max(...afterBatch.map((s) => s.lastCompletedAt ?? NaN)) - batchStart) / 1000;
      const final = expectJson(
        await pool.request(httpRequest('GET', `/beta/me/commandBatches/${created.id}`, { ...headers, prefer: 'wait=60' })),
        200,
        'batch read',
      );
      notes.push(
        `batch: 201 after ${((batchCreated - batchStart) / 1000).toFixed(2)} s (${created.total} commands in one transaction), every completion stored after ${batchSeconds.toFixed(2)} s; ` +
          `then the batch read ${JSON.stringify(final.counts)}, done ${final.done}; ${describeCpuUse(cpu, cpuSnapshot(context.processes.list()))}`,
        `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
      );
      const completedInBatch = sum(afterBatch, 'completed') - sum(afterSingles, 'completed');
      const figures: Figure[] = [
        { key: 'batch.devices', label: 'connected devices', value: connectedCount, unit: '', better: 'higher' },
        { key: 'batch.singlesSeconds', label: 'N single creates, all completed', value: singlesSeconds, unit: 's', better: 'lower' },
        { key: 'batch.singlesPerSecond', label: 'single creates completed/s', value: sum(afterSingles, 'completed') / singlesSeconds, unit: '/s', better: 'higher' },
        { key: 'batch.createSeconds', label: 'one batch: answered 201', value: (batchCreated - batchStart) / 1000, unit: 's', better: 'lower' },
        { key: 'batch.batchSeconds', label: 'one batch: all completed', value: batchSeconds, unit: 's', better: 'lower' },
        { key: 'batch.batchPerSecond', label: 'batch commands completed/s', value: completedInBatch / batchSeconds, unit: '/s', better: 'higher' },
        { key: 'batch.speedup', label: 'batch vs single creates', value: singlesSeconds / batchSeconds, unit: 'x', better: 'higher' },
      ];
      return { figures, notes };
    } finally {
      pool.close();
      await Promise.all(started.map((w) => w.stop()));
      await server.process.stop();
    }
  },
};
