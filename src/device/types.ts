import type { DeviceCommand, Report } from './protocol.js';

/**
 * What a handler gets besides the command: the command's own fields, a way
 * to report progress, and a signal that is aborted when the owner cancels.
 */
export interface CommandContext extends DeviceCommand {
  /**
   * Reports progress: the command becomes `custom` with this `customStatus`
   * (DESIGN 3). Resolves true once the server has recorded it, false if it
   * was refused or the connection closed; it never rejects, so it need not
   * be awaited.
   */
  progress(text: string): Promise<boolean>;
  /**
   * Aborted when the server asks to cancel this command (DESIGN 4,
   * `{"t":"cancel"}`) or the connection is closed for good. A handler that
   * stops early should throw (for example `signal.throwIfAborted()`); once
   * the signal is aborted the SDK reports `canceled` whatever the handler
   * does next.
   */
  readonly signal: AbortSignal;
}

/**
 * Runs one command. The returned object is the command's `responsePayload`
 * (nothing returned = `{}`); it must be a JSON object. A throw ends the
 * command `executionFailed` with the error's message.
 *
 * @example
 * const ping: CommandHandler = async (command) => ({ pong: true, got: command.payload });
 */
export type CommandHandler = (command: DeviceCommand, ctx: CommandContext) => Promise<object | void> | object | void;

/** Console-compatible; every method optional. The SDK logs nothing unless given one. */
export interface DeviceLogger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

/**
 * What happens to a connection, as `status()` yields it.
 *
 * - `connected`: the WebSocket is open (`reconnect` is false the first time).
 * - `disconnected`: it closed; a `reconnecting` event follows unless the connection is closed for good.
 * - `reconnecting`: the next attempt is due in `delayMs`.
 * - `report`: the device sent a new report (`received`, `completed`, ...; re-sends are not repeated here).
 * - `nack`: the server refused a report; it is not retried.
 * - `closed`: closed for good, with the error that stopped it if any; the iterator ends after this.
 */
export type ConnectionStatus =
  | { readonly type: 'connected'; readonly url: string; readonly reconnect: boolean }
  | { readonly type: 'disconnected'; readonly code: number; readonly reason: string; readonly error?: Error }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number; readonly error?: Error }
  | { readonly type: 'report'; readonly ref: string; readonly report: Report; readonly command?: DeviceCommand }
  | { readonly type: 'nack'; readonly ref: string | null; readonly error: string; readonly report?: Report }
  | { readonly type: 'closed'; readonly error?: Error };
