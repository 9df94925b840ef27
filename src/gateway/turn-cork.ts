import type { Duplex } from 'node:stream';

/**
 * Holds a socket's writes until the end of the current turn of the event
 * loop (its ticks and promise jobs), so the frames written in one turn leave
 * in one system call: the acks of a chain of reports, and a command sent
 * beside them. ws corks each frame on its own; corks nest.
 */
export class TurnCork {
  readonly #socket: Duplex;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(socket: Duplex) {
    this.#socket = socket;
  }

  /** call before each write of the turn */
  hold(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(this.#uncork);
  }
}
