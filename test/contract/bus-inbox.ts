// What bus stories (the contract and each adapter's own) use to receive and tell messages apart.
import type { BusMessage } from '../../src/bus/bus.js';

/** a valid message whose commandId names what it is, so a test can tell messages apart */
export function marker(text: string): BusMessage {
  return { kind: 'deliver', deviceId: 'marker', commandId: JSON.stringify(text) };
}

/** Collects messages; `next()` waits for the next one not yet taken. */
export class Inbox {
  readonly got: BusMessage[] = [];
  #taken = 0;
  #wake: (() => void) | undefined;

  readonly handler = (message: BusMessage): void => {
    this.got.push(message);
    this.#wake?.();
  };

  async next(): Promise<BusMessage> {
    while (this.got.length <= this.#taken) await new Promise<void>((resolve) => (this.#wake = resolve));
    return this.got[this.#taken++]!;
  }

  /** the texts of the markers received, in order */
  markers(): string[] {
    return this.got.map(markerText);
  }
}

export function markerText(m: BusMessage): string {
  return m.kind === 'deliver' && m.deviceId === 'marker' ? (JSON.parse(m.commandId) as string) : `(not a marker: ${m.kind})`;
}
