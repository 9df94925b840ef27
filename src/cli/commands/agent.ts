import { parseCliArgs } from '../args.js';
import { startAgent } from '../../agent/agent.js';
import defaultHandlers from '../../agent/default-handlers.js';
import { loadHandlersModule } from '../../agent/handlers-module.js';
import { DeviceClosedError, type DeviceConnection } from '../../device/index.js';
import { CliError, type CliCommand } from '../cli.js';
import { DEFAULT_SERVER } from '../http-client.js';

const HELP = `Usage: appia agent --token DEVICE_TOKEN [--server URL] [--dry-run] [--handlers FILE]

Runs this machine as an Appia device: connects to the server and stays
connected (reconnecting as needed), and runs the commands sent to the device.

  --token T         the device token from \`appia device add\` (default $APPIA_DEVICE_TOKEN)
  --server URL      the Appia server (default $APPIA_URL or ${DEFAULT_SERVER})
  --dry-run         print LaunchUri commands instead of opening them (and report them completed)
  --handlers FILE   an ESM module of app services (export default { name: async (payload, ctx) => ({ ... }) });
                    its services are added to the built-in "ping" (a name it exports replaces the built-in one)

LaunchUri opens the URI with xdg-open (Linux), open (macOS) or start (Windows).
Ctrl-C (SIGINT) or SIGTERM stops it after running commands finish.`;

export const agentCommand: CliCommand = {
  name: 'agent',
  usage: 'agent --token T [--server URL] [--dry-run] [--handlers F]',
  summary: 'run this machine as a device: open URIs, answer app services',
  async run(args) {
    const { values, positionals } = parseCliArgs({
      args: [...args],
      options: {
        token: { type: 'string' },
        server: { type: 'string' },
        'dry-run': { type: 'boolean' },
        handlers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const deviceToken = values.token ?? process.env['APPIA_DEVICE_TOKEN'];
    if (!deviceToken) throw new CliError('a device token is needed: pass --token or set APPIA_DEVICE_TOKEN (appia device add prints one)');
    const server = values.server ?? process.env['APPIA_URL'] ?? DEFAULT_SERVER;
    let appServices = defaultHandlers;
    if (values.handlers) {
      try {
        appServices = { ...defaultHandlers, ...(await loadHandlersModule(values.handlers)) };
      } catch (err) {
        throw new CliError((err as Error).message, 1);
      }
    }

    const abort = new AbortController();
    let connection: DeviceConnection | undefined;
    let stopping = false;
    const stop = () => {
      if (stopping) {
        void connection?.close(); // a second Ctrl-C: stop at once
        return;
      }
      stopping = true;
      console.log('stopping (waiting for running commands; Ctrl-C again to stop at once) ...');
      if (connection) void connection.drain({ timeoutMs: 10_000 });
      else abort.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      try {
        connection = await startAgent({ server, deviceToken, dryRun: values['dry-run'] ?? false, appServices, signal: abort.signal });
      } catch (err) {
        if (err instanceof DeviceClosedError && stopping) return 0;
        if (err instanceof Error) throw new CliError(err.message, 1); // a refused token (DeviceAuthError), a bad URL: said plainly
        throw err;
      }
      if (stopping) void connection.drain({ timeoutMs: 10_000 });
      const error = await connection.closed();
      if (error) throw new CliError(error.message, 1);
      console.log('stopped');
      return 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
