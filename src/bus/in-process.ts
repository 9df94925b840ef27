import type { Bus, BusMessage } from './bus.js';

/** The single-node bus: subscribers in this process, called synchronously. */
export class InProcessBus implements Bus {
  readonly #handlers = new Map<string, Set<(message: BusMessage) => void>>();

  publish(subject: string, message: BusMessage): void {
    const handlers = this.#handlers.get(subject);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(message);
      } catch {
        // A failing subscriber must not stop the others; the store stays the truth.
      }
    }
  }

  subscribe(subject: string, handler: (message: BusMessage) => void): () => void {
    let handlers = this.#handlers.get(subject);
    if (!handlers) this.#handlers.set(subject, (handlers = new Set()));
    handlers.add(handler);
    return () => {
      handlers.delete(handler);
      // Only drop the subject's set if it is still this one: a second call of
      // this function must not remove a newer subscriber's set.
      if (handlers.size === 0 && this.#handlers.get(subject) === handlers) this.#handlers.delete(subject);
    };
  }

  async close(): Promise<void> {
    this.#handlers.clear();
  }
}
