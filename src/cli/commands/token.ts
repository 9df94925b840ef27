import { parseArgs } from 'node:util';
import { openEmbeddedIssuer } from '../../auth/embedded-issuer.js';
import { CliError, type CliCommand } from '../cli.js';

export const tokenCommand: CliCommand = {
  name: 'token',
  usage: 'token --user NAME [--scope "Device.Read Device.Command"] [--data DIR]',
  summary: 'mint a user token from the embedded issuer (prints only the token)',
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        user: { type: 'string' },
        scope: { type: 'string' },
        data: { type: 'string' },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      console.log(
        'Usage: appia token --user NAME [--scope "Device.Read Device.Command"] [--data DIR] [--ttl SECONDS]\n\n' +
          'Mints a token signed by the embedded issuer kept in the data folder (default $APPIA_DATA or ./appia-data)\n' +
          'and prints only the token, for use as: curl -H "Authorization: Bearer $(appia token --user alice)" ...',
      );
      return 0;
    }
    if (!values.user?.trim()) throw new CliError('--user NAME is required');
    const scopes = values.scope?.split(/[\s,]+/).filter(Boolean);
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new CliError('--ttl must be a whole number of seconds');
    const issuer = await openEmbeddedIssuer({ dataDir: values.data ?? process.env['APPIA_DATA'] ?? './appia-data' });
    const token = await issuer.mint({ user: values.user.trim(), ...(scopes ? { scopes } : {}), ...(ttl ? { ttlSeconds: ttl } : {}) });
    process.stdout.write(token + '\n');
    return 0;
  },
};
