import { appiaDevices, appiaIdleDevices } from './appia/devices.js';
import { mqttResponders } from './baselines/mqtt.js';
import { natsResponders } from './baselines/nats.js';
import { wsRelayServer, wsResponders } from './baselines/ws-relay.js';

/**
 * Everything a worker process can run, by name. To run a new role in its own
 * process, export it from its scenario's module and add it here; then
 * `processes.startWorker('<name>', options)` starts it, typed.
 */
export const roles = {
  'ws-relay-server': wsRelayServer,
  'ws-responders': wsResponders,
  'mqtt-responders': mqttResponders,
  'nats-responders': natsResponders,
  'appia-devices': appiaDevices,
  'appia-idle-devices': appiaIdleDevices,
} as const;

type Roles = typeof roles;

// The roles' types reach lib/processes.ts through its RoleRegistry, so that
// the process tracker does not import the roles (which use it).
declare module './lib/processes.js' {
  interface RoleRegistry extends Roles {}
}

export type { RoleName } from './lib/processes.js';
