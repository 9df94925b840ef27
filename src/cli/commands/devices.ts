import { parseCliArgs } from '../args.js';
import type { DeviceJson } from '../types.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { printJson, table } from '../output.js';

export const devicesCommand: CliCommand = {
  name: 'devices',
  summary: 'list your devices and whether they are online',
  help: () => `Usage: ${hint('devices [--json]')}

Lists your devices: id, name, kind, platform, status, last seen.
With --json: {"value": [the devices as the API returns them]}.

Options:
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: SERVER_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const client = new ApiClient(serverTarget(values));
    return reportingApiErrors(async () => {
      const devices = await client.all<DeviceJson>('/me/devices');
      if (values.json) {
        printJson({ value: devices });
        return 0;
      }
      if (devices.length === 0) {
        console.log(`No devices yet. Register one with: ${hint('device add --name "My PC"')}`);
        return 0;
      }
      console.log(
        table(
          ['ID', 'NAME', 'KIND', 'PLATFORM', 'STATUS', 'LAST SEEN'],
          devices.map((d) => [d.id, d.name, d.kind, d.platform, d.status, d.lastSeenDateTime]),
        ),
      );
      return 0;
    });
  },
};
