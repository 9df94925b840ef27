import { subjects } from '../bus/bus.js';
import type { CommandRecord } from '../domain/command.js';
import { AppiaError } from '../domain/errors.js';
import { transition } from '../domain/lifecycle.js';
import { policyOf } from '../domain/policy.js';
import { isFinal } from '../domain/policy.js';
import type { CoreContext } from './context.js';
import type { StatusWriter } from './writer.js';

/**
 * The owner asks to cancel (DESIGN 3): `cancel`, then `canceled` at once if
 * the command never reached the device, else the device's node is asked to
 * send the cancel (`cancelling` once sent). A final command is a conflict
 * naming its status; a cancel already under way is answered as it stands.
 */
export async function cancelCommand(
  ctx: CoreContext,
  writer: StatusWriter,
  userId: string,
  deviceId: string,
  commandId: string,
): Promise<CommandRecord> {
  const command = await ctx.store.getCommand(userId, deviceId, commandId);
  if (!command) throw new AppiaError('notFound', `command ${commandId} was not found`);
  if (isFinal(command.status)) throw alreadyFinal(command);
  // A cancel already under way: a repeated request is not a change (docs/decisions.md).
  if (!transition(command.status, 'cancelRequested').ok) return command;
  const reachedDevice = !policyOf(command.status).awaitsDelivery;
  const asked = await writer.apply(commandId, 'cancelRequested', { detail: 'cancel requested by the owner' }, command);
  if (!asked.ok) {
    // Lost a race with a final status (the device finished, or expiry): report it.
    if (asked.command && isFinal(asked.command.status)) throw alreadyFinal(asked.command);
    return asked.command ?? command;
  }
  if (!reachedDevice) {
    const done = await writer.apply(commandId, 'cancelUndelivered', { detail: 'it had not reached the device' }, asked.command);
    return done.command ?? asked.command;
  }
  ctx.bus.publish(subjects.device(deviceId), { kind: 'cancel', deviceId, commandId });
  return asked.command;
}

/**
 * Removes a device (DESIGN 2, DELETE): its token stops working at once, its
 * undelivered commands end `failedToSend`, the ones it had received
 * `canceled`, and its live connection (on whichever node) is closed.
 */
export async function removeDevice(ctx: CoreContext, writer: StatusWriter, userId: string, deviceId: string): Promise<boolean> {
  const removed = await ctx.store.removeDevice(userId, deviceId, ctx.now());
  if (!removed) return false;
  ctx.bus.publish(subjects.device(deviceId), { kind: 'deviceRemoved', deviceId });
  for (const command of await ctx.store.listOpenCommands(deviceId)) {
    const undelivered = policyOf(command.status).awaitsDelivery;
    await writer.apply(
      command.id,
      'deviceRemoved',
      { detail: 'the device was removed', ...(undelivered ? { error: 'the device was removed before delivery' } : {}) },
      command,
    );
  }
  return true;
}

function alreadyFinal(command: CommandRecord): AppiaError {
  return new AppiaError('conflict', `the command is already ${command.status} and can no longer be canceled`);
}
