/**
 * `appia/device`: the device side of Appia (DESIGN 4). Connect a device with
 * its token, handle LaunchUri and AppService commands, report progress, and
 * let the SDK take care of receipts, acks, re-sends and reconnects.
 *
 * @example
 * import { connect } from 'appia/device';
 *
 * const device = await connect({
 *   url: 'http://127.0.0.1:8080',
 *   token: process.env.APPIA_DEVICE_TOKEN!,
 *   appServices: { ping: async (command) => ({ pong: true, payload: command.payload }) },
 * });
 * device.handle('LaunchUri', async (command) => console.log('open', command.payload?.uri));
 * await device.closed();
 *
 * @packageDocumentation
 */
export { connect, DeviceConnection } from './connection.js';
export type { ConnectOptions, DrainOptions, WebSocketConstructor, WebSocketLike } from './connection.js';
export type { ReconnectOptions } from './backoff.js';
export type { CommandContext, CommandHandler, ConnectionStatus, DeviceLogger } from './types.js';
export type { CommandReport, DeviceCommand, Report, StateReport } from './protocol.js';
export { connectUrl } from './protocol.js';
export { DeviceAuthError, DeviceClosedError, ReportRefusedError } from './errors.js';
export { pairDevice, PairingError } from './pairing.js';
export type { PairingOptions } from './pairing.js';
