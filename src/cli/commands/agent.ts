import { parseCliArgs } from '../args.js';
import { startAgent } from '../../agent/agent.js';
import defaultHandlers from '../../agent/default-handlers.js';
import { loadHandlersModule } from '../../agent/handlers-module.js';
import { allowedSchemes, DEFAULT_SCHEMES } from '../../agent/scheme-allow-list.js';
import { DeviceClosedError, type DeviceConnection } from '../../device/index.js';
import { CliError, type CliCommand } from '../cli.js';
import { DEFAULT_SERVER } from '../http-client.js';
import { hint } from '../invocation.js';

/** DESIGN 4: how long a stopping agent lets running commands finish (default 10 s) */
const DEFAULT_GRACE_MS = 10_000;

export const agentCommand: CliCommand = {
  name: 'agent',
  summary: 'run this machine as a device: open URIs, answer app services',
  help: () => `Usage: ${hint('agent --token DEVICE_TOKEN [--server URL] [--dry-run] [--handlers FILE] [--allow-scheme S]')}

Runs this machine as an Appia device: connects to the server and stays
connected (reconnecting as needed), and runs the commands sent to the device.

  --token T           the device token from \`${hint('device add')}\` (default $APPIA_DEVICE_TOKEN)
  --server URL        the Appia server (default $APPIA_URL or ${DEFAULT_SERVER})
  --dry-run           print LaunchUri commands instead of opening them (and report them completed)
  --handlers FILE     an ESM module of app services (export default { name: async (payload, ctx) => ({ ... }) });
                      its services are added to the built-in "ping" (a name it exports replaces the built-in one)
  --allow-scheme S    also open URIs of scheme S (repeat it, or S1,S2); the default is ${DEFAULT_SCHEMES.join(', ')}.
                      Any other scheme (file:, javascript:, ms-msdt:, smb:, ...) fails the command unopened.
  --grace-ms N        on Ctrl-C, how long running commands may finish (default ${DEFAULT_GRACE_MS}); those
                      still running then are reported failed
  -h, --help          this help

LaunchUri opens the URI with xdg-open (Linux), open (macOS) or start (Windows).
Ctrl-C (SIGINT) or SIGTERM stops it after running commands finish; a second
Ctrl-C stops it at once.`,
  async run(args) {
    const { values, positionals } = parseCliArgs({
      args: [...args],
      options: {
        token: { type: 'string' },
        server: { type: 'string' },
        'dry-run': { type: 'boolean' },
        handlers: { type: 'string' },
        'allow-scheme': { type: 'string', multiple: true },
        'grace-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const deviceToken = values.token ?? process.env['APPIA_DEVICE_TOKEN'];
    if (!deviceToken) throw new CliError(`a device token is needed: pass --token or set APPIA_DEVICE_TOKEN (\`${hint('device add')}\` prints one)`);
    const server = values.server ?? process.env['APPIA_URL'] ?? DEFAULT_SERVER;
    let allowSchemes: ReadonlySet<string>;
    try {
      allowSchemes = allowedSchemes(values['allow-scheme'] ?? []);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const graceMs = values['grace-ms'] === undefined ? DEFAULT_GRACE_MS : Number(values['grace-ms']);
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw new CliError(`--grace-ms must be a whole number of milliseconds (got ${JSON.stringify(values['grace-ms'])})`);
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
      console.log(`stopping (running commands get ${graceMs} ms to finish; Ctrl-C again to stop at once) ...`);
      if (connection) void connection.drain({ timeoutMs: graceMs });
      else abort.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      try {
        connection = await startAgent({ server, deviceToken, dryRun: values['dry-run'] ?? false, appServices, allowSchemes, signal: abort.signal });
      } catch (err) {
        if (err instanceof DeviceClosedError && stopping) return 0;
        if (err instanceof Error) throw new CliError(err.message, 1); // a refused token (DeviceAuthError), a bad URL: said plainly
        throw err;
      }
      if (stopping) void connection.drain({ timeoutMs: graceMs });
      const error = await connection.closed();
      if (error) throw new CliError(error.message, 1);
      // DESIGN 4: "the process then exits": main ends the process once this returns, even
      // while a handler that ignored its abort signal still holds timers.
      console.log('stopped');
      return 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
