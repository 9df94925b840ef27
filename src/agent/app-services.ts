import type { CommandContext } from '../device/index.js';

/**
 * An app service of the agent: gets the command's payload (an object, `{}`
 * when none) and the SDK's context (progress, cancel signal, the command's
 * fields); returns the response payload object.
 */
export type AppService = (payload: Record<string, unknown>, ctx: CommandContext) => Promise<object | void> | object | void;

export type AppServices = Readonly<Record<string, AppService>>;
