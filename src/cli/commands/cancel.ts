import { parseCliArgs } from '../args.js';
import type { CommandJson } from '../types.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { CANCELED, isFinalStatus } from '../outcomes.js';
import { fields, printJson } from '../output.js';
import { escapeControl } from '../terminal-text.js';
import { waitAndReport } from '../wait-report.js';

const CANCEL_OPTIONS = { ...SERVER_OPTIONS, wait: { type: 'boolean' } } as const;

export const cancelCommand: CliCommand = {
  name: 'cancel',
  summary: 'ask to cancel a command; --wait follows it to its final status',
  help: () => `Usage: ${hint('cancel DEVICE COMMAND [--wait] [--json]')}

Asks to cancel a command of one of your devices (by id, or by name) and prints
the command as it now stands: ${CANCELED} at once when it had not reached the
device yet, else still open until the device confirms the cancel (or the
cancel timeout passes). A command that is already final cannot be canceled
(the server's conflict error, exit 1).

  --wait   stay until the command reaches its final status, showing each change
           (exit 0 only when it ends ${CANCELED}: a device may finish it first)

With --json: the command as the API returns it (with --wait: the final command).

Options:
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: CANCEL_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (positionals.length !== 2) throw new CliError(`usage: ${hint('cancel DEVICE COMMAND')}`);
    const target = serverTarget(values);
    const client = new ApiClient(target);
    return reportingApiErrors(async () => {
      const device = await resolveDevice(client, positionals[0]!);
      const path = `/me/devices/${encodeURIComponent(device.id)}/commands/${encodeURIComponent(positionals[1]!)}/cancel`;
      const command = await client.request<CommandJson>('POST', path);
      if (values.wait) {
        const intro = `Cancel of command ${command.id} asked (it is ${command.status})`;
        return waitAndReport(target, client, device, command, { json: values.json === true, intro, success: CANCELED });
      }
      if (values.json) {
        printJson(command);
        return 0;
      }
      console.log(escapeControl(`Cancel asked for command ${command.id} on ${device.name ?? device.id}.`));
      console.log(fields([['id', command.id], ['type', command.type], ['status', command.status]]));
      if (!isFinalStatus(command.status)) {
        console.log('');
        console.log(escapeControl(`The device has it, so it ends when the device confirms. Follow it with: ${hint(`status ${device.id} ${command.id}`)}`));
      }
      return 0;
    });
  },
};
