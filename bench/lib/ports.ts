import { createConnection, createServer } from 'node:net';
import { now, sleep } from './time.js';

export const loopback = '127.0.0.1';

/** A port that was free on loopback a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, loopback, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Whether something accepts TCP connections on loopback:`port`. */
export function isPortOpen(port: number, host = loopback, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls until `port` accepts connections; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 5000, host = loopback): Promise<void> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (await isPortOpen(port, host, 500)) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}
