/**
 * DESIGN 4, presence: every Store has `presence`, the lease that keeps a
 * device Online or Standby only while a node still holds its connection.
 * Declared here and merged into store.ts's Store interface (which keeps to
 * its size), like `pairings`.
 */
declare module './store.js' {
  interface Store {
    readonly presence: PresenceStore;
  }
}

/**
 * A node renews the presence of the connections it holds every ping interval;
 * a device whose presence was not renewed for a while (its node died, or the
 * process was killed and started again) is Offline. A device's `lastSeenAt`
 * is the last time a node vouched for it.
 */
export interface PresenceStore {
  /**
   * Renews the presence of the devices whose latest connection is one of
   * `connectionIds`: `lastSeenAt` becomes `at`, and a device that a lease
   * ran out on meanwhile (its node was only slow) is Online again. Resolves
   * with how many devices it renewed.
   */
  renew(connectionIds: readonly string[], at: number): Promise<number>;
  /** Marks Offline every present device last seen before `seenBefore`; resolves with their ids. */
  expire(seenBefore: number): Promise<string[]>;
}
