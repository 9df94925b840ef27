/**
 * Fans events out to any number of async iterators (nats.js-style
 * `status()`). Each iterator sees the events pushed after it was created and
 * ends when the channel ends. A reader that stops reading keeps at most
 * `maxBuffered` events; older ones are dropped.
 */
export class StatusChannel<T> {
  readonly #readers = new Set<Reader<T>>();
  readonly #maxBuffered: number;
  #ended = false;

  constructor(maxBuffered = 1000) {
    this.#maxBuffered = maxBuffered;
  }

  push(event: T): void {
    for (const reader of this.#readers) reader.push(event, this.#maxBuffered);
  }

  end(): void {
    this.#ended = true;
    for (const reader of this.#readers) reader.end();
    this.#readers.clear();
  }

  iterate(): AsyncIterableIterator<T> {
    const reader = new Reader<T>();
    if (this.#ended) reader.end();
    else this.#readers.add(reader);
    const readers = this.#readers;
    const iterator: AsyncIterableIterator<T> = {
      next: () => reader.next(),
      return: async () => {
        readers.delete(reader);
        reader.end();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}

class Reader<T> {
  readonly #buffer: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;

  push(event: T, maxBuffered: number): void {
    if (this.#ended) return;
    if (this.#waiting) {
      const wake = this.#waiting;
      this.#waiting = undefined;
      wake({ done: false, value: event });
      return;
    }
    this.#buffer.push(event);
    if (this.#buffer.length > maxBuffered) this.#buffer.shift();
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting) {
      const wake = this.#waiting;
      this.#waiting = undefined;
      wake({ done: true, value: undefined });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) return Promise.resolve({ done: false, value: this.#buffer.shift()! });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.#waiting = resolve));
  }
}
