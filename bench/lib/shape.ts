/**
 * The one load shape every request/response scenario uses, Appia's and the
 * baselines', so their figures can be divided by each other.
 */
export const shape = {
  /** responder connections (devices) */
  responders: 100,
  /** requests kept in flight in the closed loop */
  outstanding: 200,
  /** requester connections the outstanding requests are spread over */
  requesterConnections: 4,
  /** a request with no answer after this long counts as an error */
  requestTimeoutMs: 10_000,
} as const;

/** The request body: an Appia command as an app would create it. */
export const requestBody = {
  type: 'LaunchUri',
  payload: { uri: 'https://example.com/documents/appia-benchmark?open=report-2024-q4&page=12' },
  appServiceName: null,
  packageFamilyName: null,
  permissionTicket: 'bench-7f3a9c21e4b84d0c9a6e5f1b2c3d4e5f',
  postBackUri: null,
} as const;

/** The responder's answer. */
export const replyBody = {
  status: 'completed',
  responsePayload: { result: 'opened', detail: 'document shown on screen 1' },
} as const;

export const requestBytes = Buffer.from(JSON.stringify(requestBody));
export const replyBytes = Buffer.from(JSON.stringify(replyBody));
