import { parseCliArgs } from '../args.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverTarget, SERVER_OPTIONS, SERVER_OPTIONS_HELP } from '../http-client.js';
import { fields, printJson } from '../output.js';
import { waitAndReport } from '../follow.js';
import type { CommandJson } from '../types.js';

const HELP = `Usage:
  appia send DEVICE --uri URI
  appia send DEVICE --app-service NAME --package PFN [--payload JSON]

Sends a command to one of your devices (by id, or by name) and prints the new
command's id and status. Follow it with \`appia status DEVICE COMMAND\`.

  --uri URI             a LaunchUri command: the device opens this absolute URI
  --app-service NAME    an AppService command for this app service ...
  --package PFN         ... of this package family name
  --payload JSON        the AppService payload, a JSON object (default {})
  --wait                stay until the command finishes, showing each status change as it
                        happens, then its response payload (exit 1 unless it completed)

Options:
${SERVER_OPTIONS_HELP}`;

const SEND_OPTIONS = {
  ...SERVER_OPTIONS,
  uri: { type: 'string' },
  'app-service': { type: 'string' },
  package: { type: 'string' },
  payload: { type: 'string' },
  wait: { type: 'boolean' },
} as const;

export const sendCommand: CliCommand = {
  name: 'send',
  usage: 'send DEVICE --uri URI | --app-service NAME --package PFN',
  summary: 'send a LaunchUri or AppService command to a device',
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: SEND_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (positionals.length !== 1) throw new CliError('give exactly one DEVICE (an id, or a name from `appia devices`); see appia send --help');
    const body = commandBody(values);
    const target = serverTarget(values);
    const client = new ApiClient(target);
    return reportingApiErrors(async () => {
      const device = await resolveDevice(client, positionals[0]!);
      const created = await client.post<CommandJson>(`/me/devices/${encodeURIComponent(device.id)}/commands`, body);
      if (values.wait) return waitAndReport(target, client, device, created, values.json === true);
      // Steps that follow the created command go here, each taking the command and
      // returning the one to show: e.g. `--wait` (Prefer: wait, or the events
      // stream) would return the command once it is final.
      const shown = created;
      if (values.json) {
        printJson(shown);
        return 0;
      }
      console.log(`Command sent to ${device.name ?? device.id}.`);
      console.log(fields([['id', shown.id], ['type', shown.type], ['status', shown.status]]));
      console.log(`\nFollow it with: appia status ${device.id} ${shown.id}`);
      return 0;
    });
  },
};

/** The POST body for the flags given: exactly one of --uri or --app-service. */
export function commandBody(values: { uri?: string | undefined; 'app-service'?: string | undefined; package?: string | undefined; payload?: string | undefined }): Record<string, unknown> {
  const appService = values['app-service'];
  if ((values.uri === undefined) === (appService === undefined)) {
    throw new CliError('give either --uri URI (LaunchUri) or --app-service NAME --package PFN (AppService)');
  }
  if (values.uri !== undefined) {
    if (values.package !== undefined || values.payload !== undefined) throw new CliError('--package and --payload go with --app-service, not --uri');
    return { type: 'LaunchUri', payload: { uri: values.uri } };
  }
  if (!values.package) throw new CliError('--package PFN (the package family name) is required with --app-service');
  let payload: unknown = {};
  if (values.payload !== undefined) {
    try {
      payload = JSON.parse(values.payload);
    } catch (err) {
      throw new CliError(`--payload is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new CliError('--payload must be a JSON object, e.g. \'{"n":1}\'');
  }
  return { type: 'AppService', appServiceName: appService, packageFamilyName: values.package, payload };
}
