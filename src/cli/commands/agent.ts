import { parseCliArgs } from '../args.js';
import { startAgent } from '../../agent/agent.js';
import defaultHandlers from '../../agent/default-handlers.js';
import { loadHandlersModule } from '../../agent/handlers-module.js';
import { allowedSchemes, DEFAULT_SCHEMES } from '../../agent/scheme-allow-list.js';
import { agentConfigPath, loadAgentConfig } from '../../agent/agent-config.js';
import { DeviceClosedError, type DeviceConnection } from '../../device/index.js';
import { CliError, type CliCommand } from '../cli.js';
import { DEFAULT_SERVER } from '../http-client.js';
import { hint } from '../invocation.js';
import { pairAgent } from './agent-pair.js';

/** DESIGN 4: how long a stopping agent lets running commands finish (default 10 s) */
const DEFAULT_GRACE_MS = 10_000;

export const agentCommand: CliCommand = {
  name: 'agent',
  summary: 'run this machine as a device: open URIs, answer app services',
  help: () => `Usage: ${hint('agent --pair [--name NAME] [--server URL] [options]')}   (the first time)
       ${hint('agent [--server URL] [options]')}                        (then: the token it was given)
       ${hint('agent --token DEVICE_TOKEN [--server URL] [options]')}

Runs this machine as an Appia device: connects to the server and stays
connected (reconnecting as needed), and runs the commands sent to the device.

  --pair              pair this machine: show a code for its owner to approve (in the console, or
                      \`${hint('device approve CODE')}\`), wait for the approval, keep the device token
                      it gets in --config (readable by you only), then connect
  --name NAME         with --pair, the device's name (default this machine's host name)
  --config FILE       where the paired token is kept and read from (default $APPIA_AGENT_CONFIG or
                      ~/.config/appia/agent.json)
  --token T           a device token from \`${hint('device add')}\` (default $APPIA_DEVICE_TOKEN, else --config's)
  --server URL        the Appia server (default: the one a saved token was paired with, else $APPIA_URL
                      or ${DEFAULT_SERVER})
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
        pair: { type: 'boolean' },
        name: { type: 'string' },
        config: { type: 'string' },
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
    if (values.pair && values.token) throw new CliError('--pair gets a device token of its own: leave out --token');
    if (values.name !== undefined && !values.pair) throw new CliError('--name goes with --pair (it names the device being paired)');
    const configPath = agentConfigPath(values.config);
    let saved;
    try {
      saved = values.pair || values.token || process.env['APPIA_DEVICE_TOKEN'] ? undefined : await loadAgentConfig(configPath);
    } catch (err) {
      throw new CliError((err as Error).message, 1);
    }
    let deviceToken = values.token ?? process.env['APPIA_DEVICE_TOKEN'] ?? saved?.deviceToken;
    if (!deviceToken && !values.pair) {
      throw new CliError(`a device token is needed: pair this machine with \`${hint('agent --pair')}\`, or pass --token / set APPIA_DEVICE_TOKEN (\`${hint('device add')}\` prints one)`);
    }
    // a saved token belongs to the server it was paired with: $APPIA_URL (which the user's own commands read) does not move it
    const server = (values.server ?? (saved ? saved.server : (process.env['APPIA_URL'] ?? DEFAULT_SERVER))).replace(/\/+$/, '');
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
      if (values.pair) {
        const paired = await pairAgent({ server, configPath, name: values.name, signal: abort.signal });
        if (paired === undefined) return 0; // stopped while waiting for the approval
        deviceToken = paired;
      }
      try {
        connection = await startAgent({ server, deviceToken: deviceToken!, dryRun: values['dry-run'] ?? false, appServices, allowSchemes, signal: abort.signal });
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
