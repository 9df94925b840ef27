import { CliError, type CliCommand } from './cli.js';
import { agentCommand } from './commands/agent.js';
import { deviceCommand } from './commands/device.js';
import { devicesCommand } from './commands/devices.js';
import { sendCommand } from './commands/send.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { tokenCommand } from './commands/token.js';

/** Every `appia` subcommand, in the order `appia --help` lists them. */
const COMMANDS: readonly CliCommand[] = [serveCommand, tokenCommand, deviceCommand, devicesCommand, sendCommand, statusCommand, agentCommand];

function usage(): string {
  const rows = COMMANDS.map((c) => `  appia ${c.usage.padEnd(60)} ${c.summary}`);
  return ['Appia: a self-hosted device command relay with a Microsoft Graph compatible API.', '', 'Usage:', ...rows, '', 'Run `appia <command> --help` for its options.'].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`appia: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`appia ${command.name}: ${err.message}`);
      return err.exitCode;
    }
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      console.error(`appia ${command.name}: ${(err as Error).message}\nRun \`appia ${command.name} --help\` for its options.`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
