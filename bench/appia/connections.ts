// Appia holding many idle device connections: N devices registered over
// HTTP, then connected at once from lightweight raw `ws` clients (worker
// processes, each bound to its own 127.0.0.x source address so that no
// single address runs out of ephemeral ports), then one command each created
// over HTTP and timed until every device has received its command.
// Figures: time to connect all, the server's RSS per connection, and the
// time for the one-command-each fan-out.
import { loadavg } from 'node:os';
import { cpuSnapshot, describeCpuUse } from '../lib/cpu.js';
import type { StartedWorker } from '../lib/processes.js';
import type { Figure, Mode, Scenario } from '../lib/scenario.js';
import { requestBody } from '../lib/shape.js';
import { sleep } from '../lib/time.js';
import { idleControl, wallClock } from './devices.js';
import { expectJson, HttpPool, httpRequest } from './http-client.js';
import { httpConcurrency, planFleet, serverOpenFiles, startIdleWorkers, sum } from './idle-fleet.js';
import { procStatusBytes, registerDevices, startAppiaServer } from './server.js';

/** devices per mode; APPIA_BENCH_CONNECTIONS=<n> overrides */
const devicesPerMode: Readonly<Record<Mode, number>> = { smoke: 1_000, quick: 10_000, full: 100_000 };
const MiB = 1024 * 1024;

export const connections: Scenario = {
  name: 'appia-connections',
  title: 'Appia idle device connections (raw ws clients)',
  kind: 'appia',
  async run(context) {
    const load = loadavg();
    const asked = Number(process.env['APPIA_BENCH_CONNECTIONS'] ?? devicesPerMode[context.mode]);
    if (!Number.isInteger(asked) || asked < 1) throw new Error(`APPIA_BENCH_CONNECTIONS must be a positive whole number`);
    const notes: string[] = [];

    // Each client worker inherits this process's open-files limit; the server gets its own, raised.
    context.progress(`starting the Appia server (open-files limit ${serverOpenFiles(asked)})`);
    const server = await startAppiaServer(context, { maxOpenFiles: serverOpenFiles(asked) });
    const { count, workers, perWorker, ownLimit, serverLimit } = planFleet(asked, server);
    notes.push(
      `open files: the benchmark's limit is ${ownLimit} (its client workers inherit it: ${workers} worker(s) of <= ${perWorker}); ` +
        `the server was spawned via sh 'ulimit -n ${serverOpenFiles(asked)}' and runs with ${server.maxOpenFiles ?? 'an unknown limit'}`,
    );
    if (count < asked) {
      notes.push(
        `ONLY ${count} OF ${asked} DEVICES: the server's open-files limit is ${serverLimit} and could not be raised ` +
          `(the hard limit needs CAP_SYS_RESOURCE or root outside a container); the RSS at 100,000 is extrapolated`,
      );
    }

    const started: StartedWorker<'appia-idle-devices'>[] = [];
    try {
      context.progress(`registering ${count.toLocaleString('en-US')} devices over HTTP`);
      const t0 = performance.now();
      const devices = await registerDevices(server, count, httpConcurrency);
      const registerSeconds = (performance.now() - t0) / 1000;
      notes.push(`registered ${count} devices over HTTP in ${registerSeconds.toFixed(1)} s (${Math.round(count / registerSeconds)}/s, ${httpConcurrency} in flight)`);

      await startIdleWorkers(context, server, devices, workers, started, { name: 'appia-idle-devices' });

      await sleep(200); // let the registration's writes and garbage settle
      const rssBefore = procStatusBytes(server.pid);
      context.progress(`connecting ${count.toLocaleString('en-US')} devices from ${workers} worker(s)`);
      const connectStart = wallClock();
      let cpuBefore = cpuSnapshot(context.processes.list());
      const connected = await Promise.all(started.map((w) => idleControl(w.info.controlPort, '/connect', 'POST')));
      notes.push(`connecting: ${describeCpuUse(cpuBefore, cpuSnapshot(context.processes.list()))}`);
      const connectSeconds = (Math.max(...connected.map((s) => s.connectFinishedAt ?? wallClock())) - connectStart) / 1000;
      const connectedCount = sum(connected, 'connected');
      const failedCount = sum(connected, 'failed');
      if (failedCount > 0) notes.push(`${failedCount} connections failed (first: ${connected.find((s) => s.firstError)?.firstError})`);

      // The server does each connection's presence write and open-commands read after the handshake: let it finish.
      await sleep(Math.min(3000, 500 + count / 100));
      const rssAfter = procStatusBytes(server.pid);
      const perConnection = rssBefore !== undefined && rssAfter !== undefined && connectedCount > 0 ? (rssAfter - rssBefore) / connectedCount : NaN;

      context.progress(`one command each to ${connectedCount.toLocaleString('en-US')} devices`);
      const pool = new HttpPool(server.host, server.port, httpConcurrency, 60_000);
      const headers = { host: `${server.host}:${server.port}`, authorization: `Bearer ${server.token}` };
      const body = JSON.stringify(requestBody);
      const fanoutStart = wallClock();
      cpuBefore = cpuSnapshot(context.processes.list());
      let createdAt = fanoutStart;
      try {
        await pool.forEach(devices.length, httpConcurrency, async (i) => {
          expectJson(await pool.request(httpRequest('POST', `/beta/me/devices/${devices[i]!.id}/commands`, headers, body)), 201, 'create');
        });
        createdAt = wallClock();
      } finally {
        pool.close();
      }
      const received = await Promise.all(
        started.map((w, i) => idleControl(w.info.controlPort, `/received?expect=${connected[i]!.connected}&timeoutMs=60000`)),
      );
      notes.push(`fan-out: ${describeCpuUse(cpuBefore, cpuSnapshot(context.processes.list()))}`);
      const receivedCount = sum(received, 'received');
      const lastReceivedAt = Math.max(...received.map((s) => s.lastReceivedAt ?? NaN));
      const fanoutSeconds = (lastReceivedAt - fanoutStart) / 1000;
      if (receivedCount < connectedCount) notes.push(`only ${receivedCount} of ${connectedCount} devices received their command within 60 s`);
      const closed = sum(received, 'closed');
      if (closed > 0) notes.push(`${closed} connections were closed by the server during the run`);
      const rssEnd = procStatusBytes(server.pid);
      notes.push(
        `server RSS: ${mib(rssBefore)} MiB before connecting, ${mib(rssAfter)} MiB with ${connectedCount} idle connections, ` +
          `${mib(rssEnd)} MiB after the fan-out (peak ${mib(procStatusBytes(server.pid, 'VmHWM'))} MiB)`,
        `fan-out: the ${count} creates took ${((createdAt - fanoutStart) / 1000).toFixed(2)} s (${httpConcurrency} in flight); ` +
          `the last device received its command ${fanoutSeconds.toFixed(2)} s after the first create`,
        `load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
      );

      const figures: Figure[] = [
        { key: 'connections.count', label: 'idle devices connected', value: connectedCount, unit: '', better: 'higher' },
        { key: 'connections.connectSeconds', label: 'time to connect all', value: connectSeconds, unit: 's', better: 'lower' },
        { key: 'connections.connectPerSecond', label: 'connections/s', value: connectedCount / connectSeconds, unit: '/s', better: 'higher' },
        { key: 'connections.serverRssMiB', label: 'server RSS, all connected', value: (rssAfter ?? NaN) / MiB, unit: 'MiB', better: 'lower' },
        { key: 'connections.rssPerConnectionKiB', label: 'server RSS per connection', value: perConnection / 1024, unit: 'KiB', better: 'lower' },
      ];
      if (connectedCount < 100_000 && rssBefore !== undefined && Number.isFinite(perConnection)) {
        figures.push({
          key: 'connections.rssAt100kMiB',
          label: 'RSS at 100,000 (extrapolated)',
          value: (rssBefore + perConnection * 100_000) / MiB,
          unit: 'MiB',
          better: 'lower',
        });
      }
      figures.push(
        { key: 'connections.fanoutSeconds', label: 'one command each, all received', value: fanoutSeconds, unit: 's', better: 'lower' },
        { key: 'connections.fanoutPerSecond', label: 'fan-out commands received/s', value: receivedCount / fanoutSeconds, unit: '/s', better: 'higher' },
      );
      return { figures, notes };
    } finally {
      // clients first: a server closing 100,000 connections itself takes longer than its stop grace
      await Promise.all(started.map((w) => w.stop()));
      await server.process.stop();
    }
  },
};

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : (bytes / MiB).toFixed(1);
}
