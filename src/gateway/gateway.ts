import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { DeviceRecord } from '../domain/device.js';
import type { CommandCore } from '../core/core.js';
import { CLOSE, DeviceSocket } from './connection.js';
import { WriteTogether } from './write-together.js';
import { FRAME_ENVELOPE_BYTES, type FrameLimits } from './protocol.js';
import { RateLimiter, connectionClientKey } from '../http/rate-limit.js';
import { deviceTokenOf, isConnectPath, refuseUpgrade, selectProtocol } from './upgrade.js';

export interface GatewayDeps {
  readonly core: CommandCore;
  readonly config: Config;
  readonly log: FastifyBaseLogger;
  /** the failed-authentication limit's clock (tests) */
  readonly now?: () => number;
}

export interface Gateway {
  /** the HTTP server's 'upgrade' listener for GET /devices/connect */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** devices connected to this node */
  readonly connectedDevices: number;
  /** closes every device connection */
  close(): Promise<void>;
}

/** the largest frame ws reads when the payload limit is off (0) */
const UNLIMITED_FRAME_CAP = 64 * 1024 * 1024;
/** how long a closing handshake may take before the socket is cut */
const CLOSE_TIMEOUT_MS = 5000;
/** on shutdown, how long devices get to answer the close before their sockets are cut */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * The device gateway (DESIGN 4): WebSocket connections on GET
 * /devices/connect, on the HTTP server's port, authenticated by device
 * token at the upgrade. One live connection per device on this node; a newer
 * one replaces the older.
 *
 * @example
 * const gateway = createGateway({ core, config, log });
 * server.on('upgrade', (request, socket, head) => gateway.handleUpgrade(request, socket, head));
 * await gateway.close();
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const { core, config, log } = deps;
  const limits = frameLimits(config);
  const options: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // Frames up to the cap are read and answered (an oversized report gets a
    // nack naming its limit); only frames past it make ws close with 1009.
    maxPayload: frameCap(limits),
    // Invalid UTF-8 is nacked by protocol.ts instead of closing with 1007.
    skipUTF8Validation: true,
    handleProtocols: selectProtocol,
    closeTimeout: CLOSE_TIMEOUT_MS,
  };
  const wss = new WebSocketServer(options);
  /** the current connection of each connected device */
  const current = new Map<string, DeviceSocket>();
  /** every connection not yet settled, replaced ones included */
  const live = new Set<DeviceSocket>();
  /** a device's last connection still doing its disconnect work: the next one waits for it */
  const settling = new Map<string, Promise<void>>();
  let closing = false;
  // DESIGN 8, APPIA_AUTH_FAILURE_LIMIT: failed device-token upgrades per second per client address, then 429
  const authFailures = new RateLimiter(config.authFailureLimit, deps.now);

  // DESIGN 4: each ping interval renews the presence of this node's devices; one not renewed for three ran out (its node is gone)
  const leaseMs = 3 * config.pingIntervalMs;
  let renewing = false;
  const renewPresence = () => {
    if (renewing || closing) return;
    renewing = true;
    core
      .renewPresence([...current.values()].map((c) => c.connectionId), leaseMs)
      .catch((err: unknown) => log.warn({ err }, 'presence could not be renewed; the next ping interval tries again'))
      .finally(() => (renewing = false));
  };
  const pinger =
    config.pingIntervalMs > 0
      ? setInterval(() => {
          live.forEach((c) => c.heartbeat());
          renewPresence();
        }, config.pingIntervalMs)
      : undefined;
  pinger?.unref();

  function accept(ws: WebSocket, socket: Duplex, device: DeviceRecord): void {
    const previous = current.get(device.id);
    // DESIGN 4: a second connection with the same token replaces the first, which closes with 4000.
    const after = previous ? previous.replace() : (settling.get(device.id) ?? Promise.resolve());
    const connection = new DeviceSocket(ws, new WriteTogether(socket), device, { core, log, limits }, after);
    current.set(device.id, connection);
    live.add(connection);
    ws.once('close', (code: number) => {
      log.info({ deviceId: device.id, userId: device.userId, code }, 'device disconnected');
      const done = connection.settled;
      // A replaced connection was already waited for by its successor; only the current one's disconnect work can race a reconnect.
      if (current.get(device.id) === connection) {
        current.delete(device.id);
        settling.set(device.id, done);
      }
      void done.finally(() => {
        live.delete(connection);
        if (settling.get(device.id) === done) settling.delete(device.id);
      });
    });
    log.info({ deviceId: device.id, userId: device.userId, replaced: previous !== undefined }, 'device connected');
  }

  async function authenticate(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const client = connectionClientKey(request.socket);
    // decided before the token is looked up, as on HTTP before the signature is checked
    if (authFailures.exhausted(client)) {
      const message = `more than ${config.authFailureLimit} failed authentications per second from this address`;
      return refuseUpgrade(socket, 429, message, authFailures.retryAfter());
    }
    const found = deviceTokenOf(request);
    if (!found.ok) {
      if (found.status === 401) authFailures.take(client);
      return refuseUpgrade(socket, found.status, found.message);
    }
    let device: DeviceRecord | undefined;
    try {
      device = await core.findDeviceByToken(found.token);
    } catch (err) {
      log.error({ err }, 'device token lookup failed');
      return refuseUpgrade(socket, 503, 'the store is unavailable; try again later');
    }
    if (!device) {
      authFailures.take(client);
      return refuseUpgrade(socket, 401, 'the device token is unknown or revoked');
    }
    if (closing) return refuseUpgrade(socket, 503, 'the server is shutting down');
    if (socket.destroyed) return;
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, socket, device));
  }

  return {
    handleUpgrade(request, socket, head) {
      if (!isConnectPath(request)) return refuseUpgrade(socket, 404, `no WebSocket endpoint at ${request.url ?? '/'}`);
      if (closing) return refuseUpgrade(socket, 503, 'the server is shutting down');
      // Until ws takes the socket over, a reset during the token lookup must not crash the process.
      const onError = (): void => void socket.destroy();
      socket.on('error', onError);
      void authenticate(request, socket, head).finally(() => socket.off('error', onError));
    },
    get connectedDevices() {
      return current.size;
    },
    async close() {
      closing = true;
      if (pinger) clearInterval(pinger);
      const all = [...live];
      all.forEach((c) => c.close(CLOSE.shutdown));
      const grace = setTimeout(() => all.forEach((c) => c.terminate()), SHUTDOWN_GRACE_MS);
      await Promise.all(all.map((c) => c.settled));
      clearTimeout(grace);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** DESIGN 8: a report frame may carry a responsePayload of APPIA_MAX_PAYLOAD_BYTES plus its other fields. */
function frameLimits(config: Config): FrameLimits {
  const unlimited = config.maxPayloadBytes === 0;
  return {
    maxPayloadBytes: config.maxPayloadBytes,
    maxJsonDepth: config.maxJsonDepth,
    maxFrameBytes: unlimited ? UNLIMITED_FRAME_CAP : config.maxPayloadBytes + FRAME_ENVELOPE_BYTES,
  };
}

/** ws's hard cap: four times the frame limit, at least 1 MiB, so oversized reports can still be nacked. */
function frameCap(limits: FrameLimits): number {
  return Math.min(UNLIMITED_FRAME_CAP, Math.max(1024 * 1024, 4 * limits.maxFrameBytes));
}
