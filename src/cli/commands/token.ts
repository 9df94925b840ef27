import { parseCliArgs } from '../args.js';
import { CliError, type CliCommand } from '../cli.js';
import { hint } from '../invocation.js';
import { mintUserToken, TOKEN_OPTIONS, TOKEN_OPTIONS_HELP } from '../user-token.js';

export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'mint a user token from the embedded issuer (prints only the token)',
  help: () => `Usage: ${hint('token --user NAME [--scope "Device.Read Device.Command"] [--data DIR] [--ttl SECONDS] [--init]')}

Mints a token signed by the embedded issuer kept in the server's data folder and
prints only the token, for use as:
  export APPIA_TOKEN=$(${hint('token --user alice')})
  curl -H "Authorization: Bearer $APPIA_TOKEN" http://127.0.0.1:8080/beta/me/devices

Run it where the server runs (or pass --data with its folder): a folder with no
issuer yet is an error unless --init, since tokens of a new issuer would not be
accepted by a server that already has one. --json changes nothing: the output
is the token alone either way.

Options:
${TOKEN_OPTIONS_HELP}
  --json         accepted for symmetry with the other commands
  -h, --help     this help`,
  async run(args) {
    const { values, positionals } = parseCliArgs({
      args: [...args],
      options: { ...TOKEN_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    process.stdout.write(`${await mintUserToken(values)}\n`);
    return 0;
  },
};
