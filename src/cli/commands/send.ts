import { parseCliArgs } from '../args.js';
import type { CommandJson } from '../types.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { SUCCEEDED } from '../outcomes.js';
import { fields, printJson } from '../output.js';
import { escapeControl } from '../terminal-text.js';
import { waitAndReport } from '../wait-report.js';
import { sendBatch } from './send-batch.js';

const SEND_OPTIONS = {
  ...SERVER_OPTIONS,
  uri: { type: 'string' },
  'app-service': { type: 'string' },
  package: { type: 'string' },
  payload: { type: 'string' },
  wait: { type: 'boolean' },
  all: { type: 'boolean' },
  devices: { type: 'string' },
  kind: { type: 'string' },
} as const;

export const sendCommand: CliCommand = {
  name: 'send',
  summary: 'send a LaunchUri or AppService command to a device, or to many as one batch',
  help: () => `Usage:
  ${hint('send DEVICE --uri URI')}
  ${hint('send DEVICE --app-service NAME --package PFN [--payload JSON]')}
  ${hint('send --all [--kind KIND] --uri URI [--wait]')}
  ${hint('send --devices A,B,C --uri URI [--wait]')}

Sends a command to one of your devices (by id, or by name) and prints the new
command's id and status. Follow it with \`${hint('status DEVICE COMMAND')}\`.

  --uri URI             a LaunchUri command: the device opens this absolute URI
  --app-service NAME    an AppService command for this app service ...
  --package PFN         ... of this package family name
  --payload JSON        the AppService payload, a JSON object (default {})
  --wait                stay until the command finishes, showing each status change as it
                        happens, then its response payload (exit 1 unless it ${SUCCEEDED})
  --all                 send to every one of your devices, as one batch
  --kind KIND           with --all: only the devices of this kind (Desktop, Phone, ...)
  --devices A,B,C       send to these devices (ids or names), as one batch
                        (a batch with --wait shows a live summary such as
                        "120 devices: 97 completed, 3 failed, 20 waiting" until every
                        command is final; exit 1 unless all ${SUCCEEDED})

With --json: the new command (or batch) as the API returns it (with --wait: the final one).

Options:
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: SEND_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    const batch = values.all === true || values.devices !== undefined;
    if (batch && positionals.length > 0) throw new CliError('give a DEVICE, or --all / --devices for a batch, not both');
    if (!batch && values.kind !== undefined) throw new CliError('--kind goes with --all');
    if (!batch && positionals.length !== 1) throw new CliError('give exactly one DEVICE (an id, or a name from `' + hint('devices') + '`); see --help');
    const body = commandBody(values);
    const target = serverTarget(values);
    const client = new ApiClient(target);
    const options = { all: values.all === true, devices: values.devices, kind: values.kind, wait: values.wait === true, json: values.json === true };
    if (batch) return reportingApiErrors(() => sendBatch(client, body, options));
    return reportingApiErrors(async () => {
      const device = await resolveDevice(client, positionals[0]!);
      const created = await client.post<CommandJson>(`/me/devices/${encodeURIComponent(device.id)}/commands`, body);
      const to = device.name ?? device.id;
      if (values.wait) {
        return waitAndReport(target, client, device, created, { json: values.json === true, intro: `Command ${created.id} sent to ${to}`, success: SUCCEEDED });
      }
      if (values.json) {
        printJson(created);
        return 0;
      }
      console.log(escapeControl(`Command sent to ${to}.`));
      console.log(fields([['id', created.id], ['type', created.type], ['status', created.status]]));
      console.log('');
      console.log(escapeControl(`Follow it with: ${hint(`status ${device.id} ${created.id}`)}`));
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
