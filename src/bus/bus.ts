import type { Status } from '../domain/status.js';

/**
 * The bus is only a wake-up signal (DESIGN 1): a lost message delays a
 * command (a sweep picks it up) but never loses it. Adapters: in-process.ts
 * (one node) and nats.ts (several nodes).
 */
export interface Bus {
  publish(subject: string, message: BusMessage): void;
  /** returns the function that unsubscribes */
  subscribe(subject: string, handler: (message: BusMessage) => void): () => void;
  close(): Promise<void>;
}

export type BusMessage =
  /** a command for this device is ready to be sent (created, or a retry is due) */
  | { readonly kind: 'deliver'; readonly deviceId: string; readonly commandId: string }
  /** send this command's cancel to the device */
  | { readonly kind: 'cancel'; readonly deviceId: string; readonly commandId: string }
  /** the device was removed: close its connection */
  | { readonly kind: 'deviceRemoved'; readonly deviceId: string }
  /** a command changed status (SSE watchers, Prefer: wait) */
  | {
      readonly kind: 'status';
      readonly userId: string;
      readonly deviceId: string;
      readonly commandId: string;
      readonly status: Status;
      readonly historyId: number;
    };

/** Subjects: one per device (the node holding its connection listens), one per user. */
export const subjects = {
  device: (deviceId: string) => `appia.device.${deviceId}`,
  user: (userId: string) => `appia.user.${userId}`,
} as const;
