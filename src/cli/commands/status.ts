import { parseCliArgs } from '../args.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverTarget, SERVER_OPTIONS, SERVER_OPTIONS_HELP } from '../http-client.js';
import { compactJson, fields, printJson, table, withoutAnnotations } from '../output.js';
import type { CommandJson } from '../types.js';

interface HistoryJson {
  readonly status: string;
  readonly dateTime: string;
  readonly detail?: string;
}

export const statusCommand: CliCommand = {
  name: 'status',
  usage: 'status DEVICE COMMAND',
  summary: 'show a command: status, progress, error, response payload, history',
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: SERVER_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(
        'Usage: appia status DEVICE COMMAND [--json]\n\n' +
          'Shows a command of one of your devices (by id, or by name): its status, custom status,\n' +
          'error and response payload, and every status change it went through.\n' +
          'With --json: the command object with its history added as "history".\n\n' +
          `Options:\n${SERVER_OPTIONS_HELP}`,
      );
      return 0;
    }
    if (positionals.length !== 2) throw new CliError('usage: appia status DEVICE COMMAND');
    const client = new ApiClient(serverTarget(values));
    return reportingApiErrors(async () => {
      const device = await resolveDevice(client, positionals[0]!);
      const base = `/me/devices/${encodeURIComponent(device.id)}/commands/${encodeURIComponent(positionals[1]!)}`;
      const command = withoutAnnotations(await client.get<CommandJson>(base));
      const history = (await client.get<{ value: HistoryJson[] }>(`${base}/history`)).value;
      if (values.json) {
        printJson({ ...command, history });
        return 0;
      }
      const what =
        command.type === 'AppService'
          ? `AppService ${command['appServiceName']} (package ${command['packageFamilyName']})`
          : `LaunchUri ${(command['payload'] as { uri?: string } | null)?.uri ?? ''}`;
      const responseIndent = ' '.repeat('Response payload'.length + 2);
      console.log(
        fields([
          ['Command', command.id],
          ['Device', device.name ? `${device.name} (${device.id})` : device.id],
          ['What', what],
          ['Status', command.status],
          ['Custom status', command.customStatus],
          ['Error', command.error],
          ['Response payload', command.responsePayload == null ? null : compactJson(command.responsePayload, responseIndent)],
          ['Created', command['createdDateTime'] as string],
          ['Last modified', command['lastModifiedDateTime'] as string],
          ['Expires', command['expirationDateTime'] as string],
        ]),
      );
      console.log('\nHistory');
      console.log(indent(table(['TIME', 'STATUS', 'DETAIL'], history.map((h) => [h.dateTime, h.status, h.detail]))));
      return 0;
    });
  },
};

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
