import { subjects, type Bus, type BusMessage, type Subscription } from '../bus/bus.js';
import type { CommandRecord } from '../domain/command.js';
import { isFinal } from '../domain/policy.js';
import type { Store } from '../store/store.js';

/** how often a waiter reads the command again without a wake-up */
const RECHECK_MS = 2000;

/** wakes a waiter; `final` is the record when this node stored the final change itself */
type Notify = (final?: CommandRecord) => void;

interface UserWatch {
  readonly commands: Map<string, Set<Notify>>;
  readonly subscription: Subscription;
}

/**
 * `Prefer: wait` (DESIGN 2): callers waiting for commands to reach a final
 * status. One bus subscription per user serves all of that user's waiters on
 * this node, each found by command id, so a status change (made on any node)
 * wakes only its own waiters.
 */
export class FinalWaiters {
  readonly #store: Store;
  readonly #bus: Bus;
  readonly #users = new Map<string, UserWatch>();

  constructor(store: Store, bus: Bus) {
    this.#store = store;
    this.#bus = bus;
  }

  /** Resolves with the command once it is final, or as it stands after `timeoutMs`; undefined if it is not the user's. */
  async waitForFinal(userId: string, deviceId: string, commandId: string, timeoutMs: number): Promise<CommandRecord | undefined> {
    let woken = false;
    let handed: CommandRecord | undefined;
    let wake: () => void = () => {};
    // Watch (and be registered on the bus) before the first read, so a change between the two is not missed.
    const watch = this.#watch(userId, commandId, (final) => {
      woken = true;
      handed ??= final;
      wake();
    });
    try {
      // A bus that is down only costs the wake-ups: the command is read again every RECHECK_MS anyway.
      await watch.ready.catch(() => {});
      const deadline = Date.now() + timeoutMs;
      let command = await this.#store.getCommand(userId, deviceId, commandId);
      while (command && !isFinal(command.status) && Date.now() < deadline) {
        // Woken by the bus, or every RECHECK_MS anyway: a lost bus message only delays the answer (DESIGN 1).
        if (!woken) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(RECHECK_MS, deadline - Date.now()));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        woken = false;
        // stored on this node: the record the store returned is the one a read would give
        command = handed ?? (await this.#store.getCommand(userId, deviceId, commandId));
      }
      return command;
    } finally {
      watch.stop();
    }
  }

  /** This node stored `command` (StatusWriter): its waiters take the record instead of reading it. */
  stored(command: CommandRecord): void {
    if (!isFinal(command.status)) return;
    for (const notify of this.#users.get(command.userId)?.commands.get(command.id) ?? []) notify(command);
  }

  #watch(userId: string, commandId: string, onFinal: Notify): { ready: Promise<void>; stop: () => void } {
    let user = this.#users.get(userId);
    if (!user) {
      const commands = new Map<string, Set<Notify>>();
      const subscription = this.#bus.subscribe(subjects.user(userId), (m: BusMessage) => {
        if (m.kind !== 'status' || !isFinal(m.status)) return;
        for (const notify of commands.get(m.commandId) ?? []) notify();
      });
      user = { commands, subscription };
      this.#users.set(userId, user);
    }
    const { commands } = user;
    let watchers = commands.get(commandId);
    if (!watchers) commands.set(commandId, (watchers = new Set()));
    watchers.add(onFinal);
    const current = user;
    return {
      ready: current.subscription.ready,
      stop: () => {
        watchers.delete(onFinal);
        if (watchers.size > 0) return;
        commands.delete(commandId);
        if (commands.size > 0 || this.#users.get(userId) !== current) return;
        this.#users.delete(userId);
        current.subscription.unsubscribe();
      },
    };
  }
}
