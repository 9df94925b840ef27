import { parseCliArgs } from '../args.js';
import type { CommandJson, HistoryJson } from '../types.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { compactJson, fields, printJson, table, withoutAnnotations } from '../output.js';

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'show a command: status, progress, error, response payload, history',
  help: () => `Usage: ${hint('status DEVICE COMMAND [--json]')}

Shows a command of one of your devices (by id, or by name): its status, custom status,
error and response payload, and every status change it went through.
With --json: the command object with its history added as "history".

Options:
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: SERVER_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (positionals.length !== 2) throw new CliError(`usage: ${hint('status DEVICE COMMAND')}`);
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
      const responseIndent = ' '.repeat('Response payload'.length + 2);
      console.log(
        fields([
          ['Command', command.id],
          ['Device', device.name ? `${device.name} (${device.id})` : device.id],
          ['What', describeCommand(command)],
          ['Status', command.status],
          ['Custom status', command.customStatus],
          ['Error', command.error],
          ['Response payload', command.responsePayload == null ? null : compactJson(command.responsePayload, responseIndent)],
          ['Created', command.createdDateTime],
          ['Last modified', command.lastModifiedDateTime],
          ['Expires', command['expirationDateTime'] as string],
        ]),
      );
      console.log('\nHistory');
      console.log(indent(table(['TIME', 'STATUS', 'DETAIL'], history.map((h) => [h.dateTime, h.status, h.detail]))));
      return 0;
    });
  },
};

/** `LaunchUri <uri>` or `AppService <name> (package <pfn>)`: printed as a cell, so escaped. */
function describeCommand(command: CommandJson): string {
  if (command.type === 'AppService') return `AppService ${String(command['appServiceName'])} (package ${String(command['packageFamilyName'])})`;
  return `LaunchUri ${(command['payload'] as { uri?: string } | null)?.uri ?? ''}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
