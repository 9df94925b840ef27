import { subjects, type Bus, type BusMessage, type Subscription } from '../bus/bus.js';
import type { CommandRecord } from '../domain/command.js';
import { isFinal } from '../domain/policy.js';
import type { Store } from '../store/store.js';

interface UserWatch {
  readonly commands: Map<string, Set<() => void>>;
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
    let wake: () => void = () => {};
    // Watch (and be registered on the bus) before the first read, so a change between the two is not missed.
    const watch = this.#watch(userId, commandId, () => wake());
    try {
      await watch.ready;
      const first = await this.#store.getCommand(userId, deviceId, commandId);
      if (!first || isFinal(first.status) || timeoutMs <= 0) return first;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      return await this.#store.getCommand(userId, deviceId, commandId);
    } finally {
      watch.stop();
    }
  }

  #watch(userId: string, commandId: string, onFinal: () => void): { ready: Promise<void>; stop: () => void } {
    let user = this.#users.get(userId);
    if (!user) {
      const commands = new Map<string, Set<() => void>>();
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
