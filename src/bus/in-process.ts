import { AppiaError } from '../domain/errors.js';
import { parseBusMessage, type Bus, type BusMessage, type Subscription } from './bus.js';

const READY: Promise<void> = Promise.resolve();

/** The single-node bus: subscribers in this process, called synchronously. */
export class InProcessBus implements Bus {
  readonly #handlers = new Map<string, Set<(message: BusMessage) => void>>();
  #closed = false;

  publish(subject: string, message: BusMessage): void {
    if (this.#closed) return;
    const handlers = this.#handlers.get(subject);
    if (!handlers) return;
    // validated as a remote bus would: a malformed message reaches no one
    const checked = parseBusMessage(message);
    if (!checked) return;
    for (const handler of [...handlers]) {
      try {
        handler(checked);
      } catch {
        // A failing subscriber must not stop the others; the store stays the truth.
      }
    }
  }

  subscribe(subject: string, handler: (message: BusMessage) => void): Subscription {
    if (this.#closed) {
      const ready = Promise.reject(closedError());
      ready.catch(() => {}); // a caller that never awaits `ready` must not crash the process
      return { ready, unsubscribe: () => {} };
    }
    let handlers = this.#handlers.get(subject);
    if (!handlers) this.#handlers.set(subject, (handlers = new Set()));
    const own = handlers;
    // a handler may be subscribed twice: each subscription is its own entry
    const entry = (message: BusMessage) => handler(message);
    own.add(entry);
    let active = true;
    return {
      ready: READY,
      unsubscribe: () => {
        if (!active) return;
        active = false;
        own.delete(entry);
        // Only drop the subject's set if it is still this one.
        if (own.size === 0 && this.#handlers.get(subject) === own) this.#handlers.delete(subject);
      },
    };
  }

  ready(): Promise<void> {
    return this.#closed ? Promise.reject(closedError()) : READY;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
  }
}

const closedError = () => new AppiaError('unavailable', 'the bus is closed');
