/**
 * `appia`: run an Appia node from your own program (the `appia serve`
 * command does the same). The device SDK is `appia/device`.
 *
 * @example
 * import { parseConfig, startAppia } from 'appia';
 *
 * const node = await startAppia(parseConfig(['--port', '8080'], process.env));
 * console.log(`listening on ${node.url}`);
 * await node.close();
 *
 * @packageDocumentation
 */
export { startAppia, type RunningAppia, type StartOverrides } from './server.js';
export { parseConfig, ConfigError, type Config } from './config.js';
