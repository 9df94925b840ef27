export const DEVICE_STATUSES = ['Online', 'Offline', 'Standby', 'Unknown'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** A registered device, as stored (times in epoch milliseconds). */
export interface DeviceRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly kind: string | null;
  readonly platform: string | null;
  readonly model: string | null;
  readonly manufacturer: string | null;
  readonly status: DeviceStatus;
  readonly lastSeenAt: number | null;
  readonly createdAt: number;
}
