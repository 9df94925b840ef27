import { resolve } from 'node:path';
import { NoIssuerError, openEmbeddedIssuer } from '../auth/embedded-issuer.js';
import { CliError } from './cli.js';

/** The options `appia token` and `appia console` share. */
export const TOKEN_OPTIONS = {
  user: { type: 'string' },
  scope: { type: 'string' },
  data: { type: 'string' },
  ttl: { type: 'string' },
  init: { type: 'boolean' },
} as const;

export const TOKEN_OPTIONS_HELP = [
  '  --user NAME    the user the token is for (required): devices are filed under it',
  '  --scope "S S"  its scopes (default "Device.Read Device.Command")',
  '  --data DIR     the server\'s data folder, where its issuer is (default $APPIA_DATA or ./appia-data)',
  '  --ttl SECONDS  how long the token lasts (default 86400, 24 h)',
  '  --init         make a new issuer in DIR if it has none (only for a server not started yet)',
].join('\n');

export interface TokenValues {
  readonly user?: string | undefined;
  readonly scope?: string | undefined;
  readonly data?: string | undefined;
  readonly ttl?: string | undefined;
  readonly init?: boolean | undefined;
}

/**
 * Mints a user token from the embedded issuer in the server's data folder
 * (DESIGN 5), offline. Without `--init` it never makes a new issuer: a new
 * signing key would sign tokens the running server answers with 401, so a
 * folder without one is said in one line, with the ways out.
 *
 * @example
 * const token = await mintUserToken({ user: 'alice', data: './appia-data' });
 */
export async function mintUserToken(values: TokenValues, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (!values.user?.trim()) throw new CliError('--user NAME is required');
  const scopes = values.scope?.split(/[\s,]+/).filter(Boolean);
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new CliError('--ttl must be a whole number of seconds');
  const dataDir = values.data ?? env['APPIA_DATA'] ?? './appia-data';
  let issuer;
  try {
    issuer = await openEmbeddedIssuer({ dataDir, create: values.init === true });
  } catch (err) {
    if (err instanceof NoIssuerError) {
      throw new CliError(
        `no token issuer in ${resolve(dataDir)} (the server makes one there at its first start): ` +
          `run this where the server runs, pass --data with its data folder, or --init to make a new issuer for a server not started yet`,
        1,
      );
    }
    throw new CliError((err as Error).message, 1);
  }
  try {
    return await issuer.mint({ user: values.user.trim(), ...(scopes ? { scopes } : {}), ...(ttl ? { ttlSeconds: ttl } : {}) });
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) throw new CliError(err.message);
    throw err;
  }
}

