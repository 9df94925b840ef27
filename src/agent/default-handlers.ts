import type { AppServices } from './app-services.js';

/**
 * The app services `appia agent` serves unless `--handlers FILE` replaces
 * them: `ping` answers with the time and echoes the payload, to check that a
 * device is reachable end to end.
 *
 * A handlers file has the same shape: an ESM module whose default export (or
 * whose named exports) map app service names to async functions.
 *
 * @example
 * // my-handlers.mjs
 * export default {
 *   async hello(payload) { return { greeting: `hello ${payload.name ?? 'world'}` }; },
 * };
 */
const handlers: AppServices = {
  async ping(payload) {
    return { pong: true, time: new Date().toISOString(), payload };
  },
};

export default handlers;
