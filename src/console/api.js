// The console's view of Appia's HTTP API (DESIGN 2). Every call sends the
// token as `Authorization: Bearer`; a Graph error becomes an ApiError that
// carries the server's own code and message, shown to the user as worded.

const BASE = '/beta/me';

/** A refused request: the HTTP status and Graph's `error.code` / `error.message`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Reads Graph's error envelope from a failed response, or describes the failure plainly. */
export async function errorFrom(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = body && typeof body === 'object' ? body.error : undefined;
  if (error && typeof error.message === 'string') return new ApiError(response.status, String(error.code ?? ''), error.message);
  return new ApiError(response.status, '', `the server answered ${response.status} ${response.statusText}`.trim());
}

/** Path segments are ids the server gave us, but encode them anyway. */
const seg = (id) => encodeURIComponent(id);

export function commandPath(deviceId, commandId) {
  return `${BASE}/devices/${seg(deviceId)}/commands/${seg(commandId)}`;
}

/**
 * @param {string} token the user's bearer token
 * @param {(error: ApiError) => void} onUnauthorized called when the server refuses the token (401)
 */
export function createApi(token, onUnauthorized) {
  async function call(method, path, body) {
    const init = { method, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'network', 'the server cannot be reached');
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401) onUnauthorized(error);
      throw error;
    }
    return response.status === 204 ? undefined : response.json();
  }

  return {
    token,
    // DESIGN 10: the code a pairing device shows (any case, with or without its dash)
    approvePairing: (userCode) => call('POST', `${BASE}/devicePairings`, { userCode }),
    denyPairing: (userCode) => call('POST', `${BASE}/devicePairings/deny`, { userCode }),
    async devices() {
      return (await call('GET', `${BASE}/devices?$top=200`)).value;
    },
    async commands(deviceId) {
      return (await call('GET', `${BASE}/devices/${seg(deviceId)}/commands?$top=25`)).value;
    },
    command: (deviceId, commandId) => call('GET', commandPath(deviceId, commandId)),
    send: (deviceId, command) => call('POST', `${BASE}/devices/${seg(deviceId)}/commands`, command),
    cancel: (deviceId, commandId) => call('POST', `${commandPath(deviceId, commandId)}/cancel`),
    // DESIGN 9: command batches
    sendBatch: (body) => call('POST', `${BASE}/commandBatches`, body),
    cancelBatch: (batchId) => call('POST', `${BASE}/commandBatches/${seg(batchId)}/cancel`),
    async batchCommands(batchId) {
      const commands = [];
      let path = `${BASE}/commandBatches/${seg(batchId)}/commands?$top=1000`;
      while (path) {
        const page = await call('GET', path);
        commands.push(...page.value);
        // the next page's link is absolute, on this origin
        path = page['@odata.nextLink'] ? new URL(page['@odata.nextLink']).pathname + new URL(page['@odata.nextLink']).search : undefined;
      }
      return commands;
    },
  };
}

/** The user named in a JWT, for display only (the server checks the token, not us). */
export function tokenUser(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
    return typeof claims.sub === 'string' ? claims.sub : typeof claims.oid === 'string' ? claims.oid : null;
  } catch {
    return null;
  }
}
