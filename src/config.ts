/**
 * Configuration, parsed once into a frozen object (DESIGN 7, 8). Every
 * setting has an environment variable and a flag; flags win. Range errors
 * name the setting. There are no default secrets: the embedded issuer makes
 * its key on first start.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly natsUrl: string | null;
  readonly publicUrl: string | null;
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** external issuer URLs (DESIGN 5: several allowed); empty = the embedded issuer */
  readonly issuers: readonly string[];
  /** one audience for every issuer, or one per issuer in the order of `issuers` */
  readonly audiences: readonly string[];
  readonly userClaim: 'oid' | 'sub';
  readonly logLevel: string;
  /** DESIGN 7: JSON lines for machines (default), or pino-pretty's lines for people */
  readonly logFormat: 'json' | 'pretty';
  readonly sqliteSynchronous: 'FULL' | 'NORMAL';
  readonly sqliteWriter: 'thread' | 'inline';
  readonly maxBodyBytes: number;
  readonly maxPayloadBytes: number;
  readonly maxJsonDepth: number;
  readonly maxOpenCommands: number;
  readonly rateLimit: number;
  readonly receiptTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly maxAttempts: number;
  readonly cancelTimeoutMs: number;
  readonly defaultTtlMs: number;
  readonly pingIntervalMs: number;
  readonly postbackAllow: readonly string[];
  /** DESIGN 8: a request's headers and body must arrive within this (then 408) */
  readonly requestTimeoutMs: number;
  /** DESIGN 8: failed authentications per second per client address (then 429) */
  readonly authFailureLimit: number;
  readonly maxDevicesPerUser: number;
  /** open SSE streams plus `Prefer: wait` holds per user */
  readonly maxStreamsPerUser: number;
  /** DESIGN 10: how long a pairing code can be approved */
  readonly pairingTtlMs: number;
  /** DESIGN 10: the wait between a pairing device's polls (whole seconds) */
  readonly pairingIntervalMs: number;
  /** DESIGN 10: wrong pairing codes per minute per user and per client address (then 429) */
  readonly pairingGuessLimit: number;
  /** concurrent connections to the port (HTTP and device WebSockets); more are dropped */
  readonly maxConnections: number;
  /** DESIGN 9: devices in one command batch */
  readonly maxBatchDevices: number;
}

type Kind = 'string' | 'int' | 'list';
interface Setting {
  readonly key: keyof Config;
  readonly env: string;
  readonly flag: string;
  readonly kind: Kind;
  readonly def: string | number | null | readonly string[];
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
}

const MS_30_DAYS = 30 * 24 * 3600 * 1000;

export const SETTINGS: readonly Setting[] = [
  { key: 'host', env: 'APPIA_HOST', flag: '--host', kind: 'string', def: '127.0.0.1', help: 'address to listen on' },
  { key: 'port', env: 'PORT', flag: '--port', kind: 'int', def: 8080, min: 0, max: 65535, help: 'port (0 = any free port)' },
  { key: 'dataDir', env: 'APPIA_DATA', flag: '--data', kind: 'string', def: './appia-data', help: 'data folder (SQLite database, signing key)' },
  { key: 'databaseUrl', env: 'APPIA_DATABASE_URL', flag: '--database-url', kind: 'string', def: null, help: 'postgres://... to use PostgreSQL instead of SQLite' },
  { key: 'natsUrl', env: 'APPIA_NATS_URL', flag: '--nats-url', kind: 'string', def: null, help: 'nats://... to run several nodes' },
  { key: 'publicUrl', env: 'APPIA_PUBLIC_URL', flag: '--public-url', kind: 'string', def: null, help: 'scheme and host clients use, behind a proxy' },
  { key: 'tlsCert', env: 'APPIA_TLS_CERT', flag: '--tls-cert', kind: 'string', def: null, help: 'PEM certificate file: serve https and wss' },
  { key: 'tlsKey', env: 'APPIA_TLS_KEY', flag: '--tls-key', kind: 'string', def: null, help: 'PEM private key file for --tls-cert' },
  { key: 'issuers', env: 'APPIA_ISSUER', flag: '--issuer', kind: 'list', def: [], help: 'external token issuer URLs, comma-separated (default: the embedded issuer)' },
  { key: 'audiences', env: 'APPIA_AUDIENCE', flag: '--audience', kind: 'list', def: [], help: 'token audience for every issuer, or one per issuer in order' },
  { key: 'userClaim', env: 'APPIA_USER_CLAIM', flag: '--user-claim', kind: 'string', def: 'oid', choices: ['oid', 'sub'], help: 'claim naming the user (oid falls back to sub)' },
  { key: 'logLevel', env: 'APPIA_LOG_LEVEL', flag: '--log-level', kind: 'string', def: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], help: 'log level' },
  { key: 'logFormat', env: 'APPIA_LOG_FORMAT', flag: '--log-format', kind: 'string', def: 'json', choices: ['json', 'pretty'], help: 'log lines as JSON, or pretty for people' },
  { key: 'sqliteSynchronous', env: 'APPIA_SQLITE_SYNCHRONOUS', flag: '--sqlite-synchronous', kind: 'string', def: 'FULL', choices: ['FULL', 'NORMAL'], help: 'SQLite durability (see README, Performance)' },
  { key: 'sqliteWriter', env: 'APPIA_SQLITE_WRITER', flag: '--sqlite-writer', kind: 'string', def: 'inline', choices: ['thread', 'inline'], help: 'which thread runs SQLite writes (see README, Performance)' },
  { key: 'maxBodyBytes', env: 'APPIA_MAX_BODY_BYTES', flag: '--max-body-bytes', kind: 'int', def: 262144, min: 0, help: 'request body limit' },
  { key: 'maxPayloadBytes', env: 'APPIA_MAX_PAYLOAD_BYTES', flag: '--max-payload-bytes', kind: 'int', def: 65536, min: 0, help: 'payload and responsePayload limit, each' },
  { key: 'maxJsonDepth', env: 'APPIA_MAX_JSON_DEPTH', flag: '--max-json-depth', kind: 'int', def: 32, min: 0, help: 'JSON nesting limit' },
  { key: 'maxOpenCommands', env: 'APPIA_MAX_OPEN_COMMANDS', flag: '--max-open-commands', kind: 'int', def: 1000, min: 0, help: 'non-final commands per device' },
  { key: 'rateLimit', env: 'APPIA_RATE_LIMIT', flag: '--rate-limit', kind: 'int', def: 100, min: 0, help: 'requests per second per user' },
  { key: 'receiptTimeoutMs', env: 'APPIA_RECEIPT_TIMEOUT_MS', flag: '--receipt-timeout-ms', kind: 'int', def: 10000, min: 0, help: 'sentToTarget without receipt -> retry' },
  { key: 'retryBaseMs', env: 'APPIA_RETRY_BASE_MS', flag: '--retry-base-ms', kind: 'int', def: 1000, min: 0, help: 'first retry backoff (doubles, jittered, max 5 min)' },
  { key: 'maxAttempts', env: 'APPIA_MAX_ATTEMPTS', flag: '--max-attempts', kind: 'int', def: 10, min: 0, help: 'delivery attempts before failedToSend' },
  { key: 'cancelTimeoutMs', env: 'APPIA_CANCEL_TIMEOUT_MS', flag: '--cancel-timeout-ms', kind: 'int', def: 30000, min: 0, help: 'cancelling without an answer -> canceled' },
  { key: 'defaultTtlMs', env: 'APPIA_DEFAULT_TTL_MS', flag: '--default-ttl-ms', kind: 'int', def: 86400000, min: 0, max: MS_30_DAYS, help: 'default expirationDateTime (max 30 days)' },
  { key: 'pingIntervalMs', env: 'APPIA_PING_INTERVAL_MS', flag: '--ping-interval-ms', kind: 'int', def: 30000, min: 0, help: 'WebSocket liveness ping' },
  { key: 'postbackAllow', env: 'APPIA_POSTBACK_ALLOW', flag: '--postback-allow', kind: 'list', def: [], help: 'hosts or CIDRs postbacks may reach (comma-separated)' },
  { key: 'requestTimeoutMs', env: 'APPIA_REQUEST_TIMEOUT_MS', flag: '--request-timeout-ms', kind: 'int', def: 30000, min: 0, help: "a request's headers and body must arrive within this (then 408)" },
  { key: 'authFailureLimit', env: 'APPIA_AUTH_FAILURE_LIMIT', flag: '--auth-failure-limit', kind: 'int', def: 30, min: 0, help: 'failed authentications per second per client address, API and device upgrades (then 429)' },
  { key: 'maxDevicesPerUser', env: 'APPIA_MAX_DEVICES_PER_USER', flag: '--max-devices-per-user', kind: 'int', def: 1000, min: 0, help: 'registered devices per user (then 409)' },
  { key: 'maxStreamsPerUser', env: 'APPIA_MAX_STREAMS_PER_USER', flag: '--max-streams-per-user', kind: 'int', def: 100, min: 0, help: 'open event streams and Prefer: wait holds per user (then 429)' },
  { key: 'maxBatchDevices', env: 'APPIA_MAX_BATCH_DEVICES', flag: '--max-batch-devices', kind: 'int', def: 10000, min: 0, help: 'devices in one command batch (then 413)' },
  { key: 'maxConnections', env: 'APPIA_MAX_CONNECTIONS', flag: '--max-connections', kind: 'int', def: 10000, min: 0, help: 'concurrent connections, devices included (more are dropped)' },
  { key: 'pairingTtlMs', env: 'APPIA_PAIRING_TTL_MS', flag: '--pairing-ttl-ms', kind: 'int', def: 600000, min: 1000, max: 86400000, help: 'how long a device pairing code can be approved' },
  { key: 'pairingIntervalMs', env: 'APPIA_PAIRING_INTERVAL_MS', flag: '--pairing-interval-ms', kind: 'int', def: 5000, min: 1000, max: 60000, help: "a pairing device's wait between polls (rounded up to seconds)" },
  { key: 'pairingGuessLimit', env: 'APPIA_PAIRING_GUESS_LIMIT', flag: '--pairing-guess-limit', kind: 'int', def: 10, min: 0, help: 'wrong pairing codes per minute per user and per address (then 429)' },
];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses settings from flags (`--port 9000` or `--port=9000`) over the
 * environment over defaults. Unknown flags are an error.
 */
export function parseConfig(argv: readonly string[] = [], env: Readonly<Record<string, string | undefined>> = {}): Config {
  const fromFlags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const setting = SETTINGS.find((s) => s.flag === name);
    if (!setting) throw new ConfigError(`unknown option ${name} (see appia serve --help)`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`${name} needs a value`);
    fromFlags.set(setting.key, value);
  }
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const raw = fromFlags.get(s.key) ?? env[s.env];
    const source = fromFlags.has(s.key) ? s.flag : s.env;
    out[s.key] = raw === undefined || raw === '' ? s.def : parseValue(s, raw, source);
  }
  const config = out as unknown as Config;
  if ((config.tlsCert === null) !== (config.tlsKey === null)) {
    throw new ConfigError('APPIA_TLS_CERT and APPIA_TLS_KEY go together: set both or neither');
  }
  checkIssuers(config);
  return Object.freeze(out) as unknown as Config;
}

/** DESIGN 5: several issuers; the audience is one for all, or one per issuer in order. */
function checkIssuers(config: Config): void {
  const { issuers, audiences } = config;
  if (issuers.length === 0) {
    if (audiences.length > 0) throw new ConfigError('APPIA_AUDIENCE is set without APPIA_ISSUER: the embedded issuer has its own audience');
    return;
  }
  if (audiences.length === 0) throw new ConfigError('APPIA_AUDIENCE is required with an external APPIA_ISSUER');
  if (audiences.length !== 1 && audiences.length !== issuers.length) {
    throw new ConfigError(
      `APPIA_AUDIENCE lists ${audiences.length} audiences for ${issuers.length} issuers: give one audience for all, or one per issuer in the same order`,
    );
  }
  const seen = new Set<string>();
  for (const issuer of issuers) {
    if (seen.has(issuer)) throw new ConfigError(`APPIA_ISSUER lists ${issuer} twice`);
    seen.add(issuer);
  }
}

function parseValue(s: Setting, raw: string, source: string): unknown {
  switch (s.kind) {
    case 'string':
      if (s.choices) {
        const match = s.choices.find((c) => c.toLowerCase() === raw.toLowerCase());
        if (!match) throw new ConfigError(`${source} must be one of ${s.choices.join(', ')} (got ${JSON.stringify(raw)})`);
        return match;
      }
      return raw;
    case 'int': {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${source} must be a whole number (got ${JSON.stringify(raw)})`);
      const n = Number(raw);
      if (s.min !== undefined && n < s.min) throw new ConfigError(`${source} must be at least ${s.min}`);
      if (s.max !== undefined && n > s.max) throw new ConfigError(`${source} must be at most ${s.max}`);
      return n;
    }
    case 'list':
      return Object.freeze(raw.split(',').map((x) => x.trim()).filter(Boolean));
  }
}

/** `appia serve --help`: every setting with its flag, variable and default. */
export function settingsHelp(): string {
  const rows = SETTINGS.map((s) => {
    const def = Array.isArray(s.def) ? (s.def.length ? s.def.join(',') : '(empty)') : s.def === null ? '(none)' : String(s.def);
    return `  ${(s.flag + ' <v>').padEnd(28)} ${s.env.padEnd(26)} ${def.padEnd(14)} ${s.help}`;
  });
  return [`  ${'flag'.padEnd(28)} ${'environment'.padEnd(26)} ${'default'.padEnd(14)} what`, ...rows].join('\n');
}
