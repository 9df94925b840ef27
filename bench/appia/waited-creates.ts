// The load appia-e2e, appia-cluster and appia-postbacks share: SDK devices in a worker process, and
// creates with `Prefer: wait=60`, which Appia answers only once the command is final.
import { runClosedLoop } from '../lib/closed-loop.js';
import type { StartedWorker } from '../lib/processes.js';
import type { ScenarioContext } from '../lib/scenario.js';
import { requestBody, shape } from '../lib/shape.js';
import { benchAppService } from './devices.js';
import { expectJson, HttpPool, httpRequest } from './http-client.js';
import { type AppiaServer, registerDevices } from './server.js';

/**
 * The command every end-to-end request creates: an AppService command for
 * the devices' handler, carrying the shape's payload and ticket (so its bytes
 * match the baselines' request closely).
 */
export const commandBody = {
  type: 'AppService',
  appServiceName: benchAppService.appServiceName,
  packageFamilyName: benchAppService.packageFamilyName,
  payload: requestBody.payload,
  permissionTicket: requestBody.permissionTicket,
  postBackUri: null,
} as const;

export interface WaitedCreates {
  readonly deviceWorker: StartedWorker<'appia-devices'>;
  /** creates a command for device number `target` and waits for its answer; rejects unless it completed */
  readonly send: (target: number) => Promise<void>;
  /** how many sends completed so far */
  completed(): number;
  /** a closed loop of sends of its own for `durationMs`, no warm-up: before the measurement, while the server reaches its steady pace */
  prewarm(durationMs: number): Promise<void>;
  /** closes the HTTP pool and stops the devices: before the servers, so their shutdown is not spent on reconnects */
  close(): Promise<void>;
}

/**
 * `shape.responders` SDK devices registered on `devicesOn` and connected from
 * one worker process, and sends of `body` (default commandBody) to
 * `requestsTo` (default `devicesOn`), `shape.outstanding` at most at once.
 */
export async function waitedCreates(
  context: ScenarioContext,
  options: { devicesOn: AppiaServer; requestsTo?: AppiaServer; body?: object },
): Promise<WaitedCreates> {
  const { devicesOn, requestsTo = devicesOn, body = commandBody } = options;
  const devices = await registerDevices(devicesOn, shape.responders);
  const deviceWorker = await context.processes.startWorker('appia-devices', { url: devicesOn.url, tokens: devices.map((d) => d.token) });
  const pool = new HttpPool(requestsTo.host, requestsTo.port, shape.outstanding, shape.requestTimeoutMs);
  const headers = { host: `${requestsTo.host}:${requestsTo.port}`, authorization: `Bearer ${requestsTo.token}`, prefer: 'wait=60' };
  const requests = devices.map((d) => httpRequest('POST', `/beta/me/devices/${d.id}/commands`, headers, body));
  let completed = 0;
  const send = async (target: number): Promise<void> => {
    const command = expectJson(await pool.request(requests[target]!), 201, 'create with Prefer: wait');
    if (command.status !== 'completed') throw new Error(`the command ended ${command.status}, not completed`);
    completed++;
  };
  return {
    deviceWorker,
    send,
    completed: () => completed,
    prewarm: async (durationMs) => {
      await runClosedLoop({ outstanding: shape.outstanding, warmupMs: 0, durationMs, send: (slot) => send(slot % shape.responders) });
    },
    async close() {
      pool.close();
      await deviceWorker.stop();
    },
  };
}
