import { CliError, type CliCommand } from './cli.js';
import { agentCommand } from './commands/agent.js';
import { batchCommand } from './commands/batch.js';
import { cancelCommand } from './commands/cancel.js';
import { commandsCommand } from './commands/commands.js';
import { consoleCommand } from './commands/console.js';
import { deviceCommand } from './commands/device.js';
import { devicesCommand } from './commands/devices.js';
import { sendCommand } from './commands/send.js';
import { serveCommand } from './commands/serve.js';
import { statusCommand } from './commands/status.js';
import { tokenCommand } from './commands/token.js';
import { hint } from './invocation.js';
import { escapeControl } from './terminal-text.js';

/** Every `appia` subcommand, in the order `appia --help` lists them. */
const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  tokenCommand,
  consoleCommand,
  deviceCommand,
  devicesCommand,
  sendCommand,
  statusCommand,
  commandsCommand,
  cancelCommand,
  batchCommand,
  agentCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Appia: a self-hosted device command relay with a Microsoft Graph compatible API.',
    '',
    `Usage: ${hint('<command> [options]')}`,
    '',
    'Commands:',
    ...rows,
    '',
    `Run \`${hint('<command> --help')}\` (or \`${hint('help <command>')}\`) for its options.`,
    'The HTTP commands take the server from $APPIA_URL (or --server) and the user token from',
    '$APPIA_TOKEN (or --token); --json prints their data as JSON for scripts.',
  ].join('\n');
}

/** Runs `appia ARGV...` and resolves with the exit code: 0 done, 1 failed (API, server), 2 usage. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === 'help') {
    if (rest.length === 0) {
      console.log(usage());
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === rest[0]);
    if (!command) return unknown(rest[0]!);
    console.log(command.help());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return unknown(name);
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(escapeControl(`appia ${command.name}: ${err.message}`));
      return err.exitCode;
    }
    throw err;
  }
}

function unknown(name: string): number {
  console.error(`${escapeControl(`appia: unknown command ${JSON.stringify(name)}`)}\n\n${usage()}`);
  return 2;
}

/** Writes nothing, but resolves once everything written to `stream` before has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

const code = await main(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// A command is over when main returns: timers an agent's handler left behind, or a
// keep-alive socket, must not hold the process (DESIGN 4: "the process then exits").
process.exit(code);
