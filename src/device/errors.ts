/**
 * The server refused the device token at the upgrade (DESIGN 4: HTTP 401).
 * The SDK stops instead of retrying: the token is wrong, or the device was
 * removed by its owner.
 */
export class DeviceAuthError extends Error {
  readonly httpStatus: number;
  constructor(httpStatus: number, serverMessage?: string) {
    super(
      `the server refused the device token (HTTP ${httpStatus}${serverMessage ? `: ${serverMessage}` : ''}); check the token, ` +
        'or register the device again if it was removed (appia device add)',
    );
    this.name = 'DeviceAuthError';
    this.httpStatus = httpStatus;
  }
}

/** The connection was closed (by `close()` or `drain()`, or for good after an error) before the operation could finish. */
export class DeviceClosedError extends Error {
  constructor(message = 'the device connection is closed') {
    super(message);
    this.name = 'DeviceClosedError';
  }
}

/** The server refused a report (DESIGN 4: `{"t":"nack"}`); the report is not retried. */
export class ReportRefusedError extends Error {
  readonly ref: string;
  constructor(ref: string, reason: string) {
    super(`the server refused report ${ref}: ${reason}`);
    this.name = 'ReportRefusedError';
    this.ref = ref;
  }
}
