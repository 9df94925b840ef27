import type { Duplex } from 'node:stream';

/**
 * Writes the frames of one synchronous block in one system call: the socket
 * is corked for the block and uncorked right after it. ws writes each frame
 * with its own `writev`; the acks of a chain of reports (a device's
 * `received` and `completed`, often for two commands) then leave together.
 * Nothing is held past the block, so no frame waits for work that runs after
 * it (a group commit flushing in the same turn, say).
 */
export class WriteTogether {
  readonly #socket: Duplex;

  constructor(socket: Duplex) {
    this.#socket = socket;
  }

  /** runs `write`, whose socket writes leave together when it returns; corks nest */
  run<T>(write: () => T): T {
    this.#socket.cork();
    try {
      return write();
    } finally {
      this.#socket.uncork();
    }
  }
}
