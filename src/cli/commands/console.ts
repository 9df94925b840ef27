import { openUri } from '../../agent/opener.js';
import { parseCliArgs } from '../args.js';
import { CliError, type CliCommand } from '../cli.js';
import { serverUrl } from '../http-client.js';
import { hint } from '../invocation.js';
import { mintUserToken, TOKEN_OPTIONS, TOKEN_OPTIONS_HELP } from '../user-token.js';

/**
 * `appia console`: the web console's address with a fresh user token in
 * its fragment (`/#token=...`). Browsers never send the fragment, so the
 * token reaches no server log and no Referer; the console reads it from
 * `location.hash`. `open` is the seam for `--open` (default: the platform's
 * opener, as the agent uses).
 */
export function createConsoleCommand(open: (url: string) => Promise<void> = (url) => openUri(url)): CliCommand {
  return {
    name: 'console',
    summary: 'print (or open) the web console\'s URL, signed in as a user',
    help: () => `Usage: ${hint('console --user NAME [--open] [--server URL] [--data DIR]')}

Mints a user token exactly as \`${hint('token')}\` does (from the issuer in the
server's data folder) and prints the web console's address with the token in
its #fragment, which the browser keeps to itself: it is never sent to the
server, so it never appears in a log.

  --open         open it in the default browser too
  --server URL   the Appia server (default $APPIA_URL or http://127.0.0.1:8080)
${TOKEN_OPTIONS_HELP}
  -h, --help     this help`,
    async run(args) {
      const { values, positionals } = parseCliArgs({
        args: [...args],
        options: { ...TOKEN_OPTIONS, server: { type: 'string' }, open: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
      if (values.help) {
        console.log(this.help());
        return 0;
      }
      if (positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(positionals[0])}`);
      const server = serverUrl(values);
      const token = await mintUserToken(values);
      const url = `${server}/#token=${encodeURIComponent(token)}`;
      console.log(url);
      if (values.open) {
        try {
          await open(url);
        } catch (err) {
          throw new CliError(`${(err as Error).message}; open the address above by hand`, 1);
        }
      }
      return 0;
    },
  };
}

export const consoleCommand = createConsoleCommand();
