import type { CommandRecord } from '../domain/command.js';
import type { Engine } from '../service/engine.js';
import { cancelFrame, commandFrame } from './protocol.js';

/** The side of a device connection that delivery writes to. */
export interface Outlet {
  /** writes one frame; resolves false when it could not be written (the connection is gone) */
  send(text: string): Promise<boolean>;
  /** true while frames can be written and this connection owns delivery */
  readonly open: boolean;
  /**
   * false once the connection was replaced by a newer one or its device was
   * removed: then the newer connection (or the engine) owns the device's
   * commands, and a failed write here must not fail them.
   */
  readonly ownsDelivery: boolean;
}

export const DROPPED_BEFORE_DELIVERY = 'the connection dropped before delivery';
export const DROPPED_BEFORE_RECEIPT = 'the connection dropped before receipt';

/**
 * DESIGN 4, on connect: every command of the device that is not final and not
 * yet `executing`, oldest first. `requesting` and `retry` are recorded
 * `sentToTarget` first (an attempt, with its receipt timer) and then written;
 * `sentToTarget` ones (sent before, no receipt yet) are written again as they
 * are, since the lifecycle has no sentToTarget -> sentToTarget. Likewise a
 * `cancel` is recorded `cancelling` and sent, a `cancelling` one sent again.
 */
export async function deliverOpenCommands(engine: Engine, deviceId: string, out: Outlet): Promise<void> {
  for (const command of await engine.store.listOpenCommands(deviceId)) {
    if (!out.open) return;
    switch (command.status) {
      case 'requesting':
      case 'retry':
        await sendCommand(engine, command, out);
        break;
      case 'sentToTarget':
        await writeCommand(engine, command, out);
        break;
      case 'cancel':
        await sendCancel(engine, command, out);
        break;
      case 'cancelling':
        await out.send(cancelFrame(command.id));
        break;
      default:
        // executing / custom: the device has it; nothing to send.
        break;
    }
  }
}

/** A bus `deliver` (DESIGN 1: a wake-up): send the command if it still waits for delivery. */
export async function deliverCommand(engine: Engine, deviceId: string, commandId: string, out: Outlet): Promise<void> {
  if (!out.open) return;
  const command = await engine.store.getCommandById(commandId);
  if (!command || command.deviceId !== deviceId) return;
  if (command.status === 'requesting' || command.status === 'retry') await sendCommand(engine, command, out);
}

/** A bus `cancel`: record `cancelling` and send the cancel, if the cancel is still waiting. */
export async function deliverCancel(engine: Engine, deviceId: string, commandId: string, out: Outlet): Promise<void> {
  if (!out.open) return;
  const command = await engine.store.getCommandById(commandId);
  if (!command || command.deviceId !== deviceId) return;
  if (command.status === 'cancel') await sendCancel(engine, command, out);
}

/**
 * DESIGN 3, on disconnect: commands written to this connection that got no
 * receipt go to `retry` (or `failedToSend` when their attempts are used up)
 * and are sent again when the device reconnects.
 */
export async function failUnreceived(engine: Engine, deviceId: string): Promise<void> {
  for (const command of await engine.store.listOpenCommands(deviceId)) {
    if (command.status === 'sentToTarget') await engine.deliveryFailed(command.id, DROPPED_BEFORE_RECEIPT, command);
  }
}

async function sendCommand(engine: Engine, command: CommandRecord, out: Outlet): Promise<void> {
  // A closed connection records no attempt; an expired command is the expiry sweep's to end.
  if (!out.open || command.expiresAt <= engine.now()) return;
  // Recorded before it is written (a compare-and-set): if another node or a
  // duplicate wake-up got there first, this one is refused and sends nothing.
  const sent = await engine.apply(command.id, 'sent', {}, command);
  if (sent.ok) await writeCommand(engine, sent.command, out);
}

async function writeCommand(engine: Engine, command: CommandRecord, out: Outlet): Promise<void> {
  if (await out.send(commandFrame(command))) return;
  if (out.ownsDelivery) await engine.deliveryFailed(command.id, DROPPED_BEFORE_DELIVERY, command);
}

async function sendCancel(engine: Engine, command: CommandRecord, out: Outlet): Promise<void> {
  const sent = await engine.apply(command.id, 'cancelSent', { detail: 'the cancel was sent to the device' }, command);
  // A cancel that cannot be written ends by the cancel timeout; a reconnect sends it again.
  if (sent.ok) await out.send(cancelFrame(command.id));
}
