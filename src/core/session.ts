import { subjects, type BusMessage, type Subscription } from '../bus/bus.js';
import type { CommandRecord } from '../domain/command.js';
import type { DeviceRecord } from '../domain/device.js';
import { policyOf } from '../domain/policy.js';
import type { CoreContext } from './context.js';
import { applyReports, type Answer, type Report } from './reports.js';
import type { StatusWriter } from './writer.js';

/** How the core writes to one live device connection; the gateway encodes the frames. */
export interface Outlet {
  /** writes a `command` frame (`resumed`: the device had it before); resolves false when it could not be written */
  deliver(command: CommandRecord, resumed: boolean): Promise<boolean>;
  /** writes a `cancel` frame */
  cancel(commandId: string): Promise<boolean>;
  /** true while frames can be written */
  readonly open: boolean;
  /** true while little of what was written waits in this process (less than a socket buffer): a frame written now goes out soon */
  readonly idle: boolean;
}

export interface SessionHooks {
  /** runs a wake-up in the connection's own order (after the frames before it are answered); every task given must run, or a repeat of its wake-up is dropped */
  schedule(task: () => Promise<void>): void;
  /** a newer connection of this device opened (on any node): close this one */
  replaced(): void;
  /** the device was removed: close this connection */
  removed(): void;
}

export const DROPPED_BEFORE_DELIVERY = 'the connection dropped before delivery';
/** how long a wake-up published for this device's connection is waited for before the direct path takes new commands again (a lost one: the sweep sends it) */
const AWAITED_WAKE_MS = 2000;
export const DROPPED_BEFORE_RECEIPT = 'the connection dropped before receipt';

/**
 * One live connection of a device, as the core sees it (DESIGN 4): its
 * presence, guarded by the connection's identity so a stale connection never
 * marks the device Offline over a newer one; delivery of the device's
 * commands as the policy says for each status; and the device's reports.
 */
export class DeviceSession {
  readonly device: DeviceRecord;
  readonly connectionId: string;
  readonly #ctx: CoreContext;
  readonly #writer: StatusWriter;
  readonly #out: Outlet;
  readonly #hooks: SessionHooks;
  #subscription: Subscription | undefined;
  /** false once replaced or removed: then a newer connection (or the removal) owns the device's commands */
  #owns = true;
  /**
   * wake-ups scheduled and not yet run, by kind and command: a repeat of one is
   * dropped, as the one waiting reads the command anyway. Every node's sweep
   * wakes every waiting command again each interval; queued one read each, a
   * backlog would fill the connection's queue faster than it drains.
   */
  readonly #pendingWakes = new Set<string>();
  /** wake-ups scheduled and not yet finished (a delivery in progress among them), and direct writes queued behind them */
  #wakesInFlight = 0;
  /** commands created here for this device that took the queued path, whose wake-up has not come yet (over NATS it takes a while): until when it is waited for */
  readonly #awaitedWakes = new Map<string, number>();
  /** the connect work is done: the commands open then were sent as their policy says */
  #started = false;
  /** this node's sessions that have started, by device (CommandCore's; see sendsNow) */
  readonly #local: Map<string, DeviceSession>;

  constructor(ctx: CoreContext, writer: StatusWriter, device: DeviceRecord, out: Outlet, hooks: SessionHooks, local: Map<string, DeviceSession>) {
    this.#ctx = ctx;
    this.#local = local;
    this.#writer = writer;
    this.device = device;
    this.connectionId = ctx.ids.connectionId();
    this.#out = out;
    this.#hooks = hooks;
  }

  /**
   * Subscribes to the device's wake-ups (before the open commands are read,
   * so nothing created meanwhile is missed), records the device Online with
   * this connection as its latest, tells older connections on any node to
   * close, and sends what the policy says for each open command.
   */
  async start(): Promise<void> {
    const deviceId = this.device.id;
    this.#subscription = this.#ctx.bus.subscribe(subjects.device(deviceId), (m) => this.#onBus(m));
    await this.#subscription.ready;
    if (!(await this.#ctx.store.connectDevice(deviceId, this.connectionId, this.#ctx.now()))) return this.#removed();
    this.#ctx.bus.publish(subjects.device(deviceId), { kind: 'connected', deviceId, connectionId: this.connectionId });
    for (const command of await this.#ctx.store.listOpenCommands(deviceId)) {
      if (!this.#out.open || !this.#owns) return;
      await this.#onConnect(command);
    }
    if (!this.#out.open || !this.#owns) return;
    this.#started = true;
    this.#local.set(deviceId, this);
  }

  /**
   * Whether a new command of this device, expiring at `expiresAt`, may be
   * recorded sent in the transaction that creates it and written by
   * `sendNow` (DESIGN 4, the direct path): this connection is the device's
   * here, its connect work is done, no wake-up is queued or running (so no
   * older command is on its way) and little written waits to go out
   * (Outlet.idle: a slow reader gets its commands through the queue, which
   * waits for it).
   */
  sendsNow(expiresAt: number): boolean {
    const now = this.#ctx.now();
    return this.#started && this.#owns && this.#nothingOnItsWay(now) && this.#out.open && this.#out.idle && expiresAt > now;
  }

  /**
   * Writes a command recorded sent with its create (see sendsNow). A wake-up
   * that came while it was being stored goes first: then it is written from
   * the connection's queue, behind it. A frame that cannot be written is a
   * failed attempt, as on the queued path.
   */
  sendNow(command: CommandRecord): void {
    if (!this.#nothingOnItsWay(this.#ctx.now())) return this.#queue(() => this.#write(command));
    this.#write(command).catch((err: unknown) => {
      // the command stays sentToTarget: its receipt timer sends it again
      this.#ctx.log.warn({ err, commandId: command.id }, 'a failed delivery could not be recorded');
    });
  }

  /** A command of this device created here took the queued path: until its wake-up comes, no newer one may pass it. */
  expectWake(commandId: string): void {
    this.#awaitedWakes.set(commandId, this.#ctx.now() + AWAITED_WAKE_MS);
  }

  /** no wake-up queued, running or still to come (an awaited one that is overdue is forgotten): no older command is on its way */
  #nothingOnItsWay(now: number): boolean {
    if (this.#wakesInFlight > 0) return false;
    for (const [commandId, until] of this.#awaitedWakes) {
      if (until > now) return false;
      this.#awaitedWakes.delete(commandId);
    }
    return true;
  }

  /** The device's consecutive reports, as one chain (core/reports.ts). */
  reports(reports: readonly Report[]): Promise<Answer[]> {
    return applyReports(this.#ctx, this.#writer, this.device.id, reports);
  }

  /** DESIGN 4, `state`: Online (active) or Standby, while this is the device's latest connection. */
  async state(state: 'active' | 'standby'): Promise<void> {
    await this.#ctx.store.setDevicePresence(this.device.id, this.connectionId, state === 'active' ? 'Online' : 'Standby', this.#ctx.now());
  }

  /** A newer connection of this device on this node takes over: this one no longer owns delivery. */
  supersede(): void {
    this.#owns = false;
    this.#stopListening();
  }

  /**
   * The connection closed: the device is Offline unless a newer connection
   * has it, and commands written to this one that got no receipt go to
   * `retry` (DESIGN 3), to be sent again when it reconnects.
   */
  async end(): Promise<void> {
    this.#stopListening();
    if (!this.#owns) return;
    const latest = await this.#ctx.store.setDevicePresence(this.device.id, this.connectionId, 'Offline', this.#ctx.now());
    if (!latest) return;
    for (const command of await this.#ctx.store.listOpenCommands(this.device.id)) {
      if (policyOf(command.status).onDisconnect === 'deliveryFailed') {
        await this.#writer.deliveryFailed(command.id, DROPPED_BEFORE_RECEIPT, command);
      }
    }
  }

  #onBus(message: BusMessage): void {
    switch (message.kind) {
      case 'deliver':
        this.#awaitedWakes.delete(message.commandId);
        return this.#scheduleWake(`d ${message.commandId}`, () => this.#wakeDelivery(message.commandId));
      case 'cancel':
        return this.#scheduleWake(`c ${message.commandId}`, () => this.#wakeCancel(message.commandId));
      case 'deviceRemoved':
        return this.#removed();
      case 'connected':
        if (message.connectionId === this.connectionId) return;
        this.supersede();
        return this.#hooks.replaced();
      case 'status':
        return;
    }
  }

  #scheduleWake(key: string, wake: () => Promise<void>): void {
    if (this.#pendingWakes.has(key)) return;
    this.#pendingWakes.add(key);
    this.#queue(() => {
      // from here a new wake-up is queued again: this one may read the command before the change it announces
      this.#pendingWakes.delete(key);
      return wake();
    });
  }

  /** runs `task` in the connection's order, counted among the wake-ups in flight until it is done */
  #queue(task: () => Promise<void>): void {
    this.#wakesInFlight++;
    this.#hooks.schedule(() => task().finally(() => void this.#wakesInFlight--));
  }

  /** DESIGN 4, on connect: each open command as its status's policy says. */
  async #onConnect(command: CommandRecord): Promise<void> {
    switch (policyOf(command.status).onConnect) {
      case 'send':
        return this.#send(command);
      case 'write':
        // written before, no receipt yet: the lifecycle has no sentToTarget -> sentToTarget
        return this.#write(command);
      case 'resume':
        await this.#out.deliver(command, true);
        return;
      case 'sendCancel':
        return this.#sendCancel(command);
      case 'writeCancel':
        await this.#out.cancel(command.id);
        return;
      case 'none':
        return;
    }
  }

  /** A bus `deliver` (a wake-up, DESIGN 1): send the command if it still waits for delivery. */
  async #wakeDelivery(commandId: string): Promise<void> {
    const command = await this.#own(commandId);
    if (command && policyOf(command.status).awaitsDelivery) await this.#send(command);
  }

  /** A bus `cancel`: send the cancel if it is still waiting to be sent. */
  async #wakeCancel(commandId: string): Promise<void> {
    const command = await this.#own(commandId);
    if (command && policyOf(command.status).onConnect === 'sendCancel') await this.#sendCancel(command);
  }

  async #own(commandId: string): Promise<CommandRecord | undefined> {
    if (!this.#out.open || !this.#owns) return undefined;
    const command = await this.#ctx.store.getCommandById(commandId);
    return command && command.deviceId === this.device.id ? command : undefined;
  }

  async #send(command: CommandRecord): Promise<void> {
    // A closed connection records no attempt; an expired command is the expiry timer's to end.
    if (!this.#out.open || command.expiresAt <= this.#ctx.now()) return;
    // Recorded before it is written (a compare-and-set): if another node or a
    // duplicate wake-up got there first, this one is refused and sends nothing.
    const sent = await this.#writer.apply(command.id, 'sent', {}, command);
    if (sent.ok) await this.#write(sent.command);
  }

  async #write(command: CommandRecord): Promise<void> {
    if (await this.#out.deliver(command, false)) return;
    if (this.#owns) await this.#writer.deliveryFailed(command.id, DROPPED_BEFORE_DELIVERY, command);
  }

  async #sendCancel(command: CommandRecord): Promise<void> {
    const sent = await this.#writer.apply(command.id, 'cancelSent', { detail: 'the cancel was sent to the device' }, command);
    // A cancel that cannot be written ends by the cancel timeout; a reconnect sends it again.
    if (sent.ok) await this.#out.cancel(command.id);
  }

  #removed(): void {
    this.#owns = false;
    this.#stopListening();
    this.#hooks.removed();
  }

  #stopListening(): void {
    if (this.#local.get(this.device.id) === this) this.#local.delete(this.device.id);
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }
}
