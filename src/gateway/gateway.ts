// PLACEHOLDER (being replaced by the gateway work): refuses device connections.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Engine } from '../service/engine.js';

export interface GatewayDeps {
  readonly engine: Engine;
  readonly config: Config;
  readonly log: FastifyBaseLogger;
}

export interface Gateway {
  /** the HTTP server's 'upgrade' listener for GET /devices/connect */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** devices connected to this node */
  readonly connectedDevices: number;
  /** closes every device connection */
  close(): Promise<void>;
}

export function createGateway(_deps: GatewayDeps): Gateway {
  return {
    handleUpgrade(_request, socket) {
      socket.end('HTTP/1.1 501 Not Implemented\r\nConnection: close\r\n\r\n');
    },
    connectedDevices: 0,
    async close() {},
  };
}
