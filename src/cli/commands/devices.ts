import { parseCliArgs } from '../args.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, serverTarget, SERVER_OPTIONS, SERVER_OPTIONS_HELP } from '../http-client.js';
import { printJson, table } from '../output.js';

export const devicesCommand: CliCommand = {
  name: 'devices',
  usage: 'devices',
  summary: 'list your devices and whether they are online',
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: SERVER_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(`Usage: appia devices [--json]\n\nLists your devices: id, name, kind, platform, status, last seen.\n\nOptions:\n${SERVER_OPTIONS_HELP}`);
      return 0;
    }
    if (positionals.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const client = new ApiClient(serverTarget(values));
    return reportingApiErrors(async () => {
      const devices = await client.all('/me/devices');
      if (values.json) {
        printJson({ value: devices });
        return 0;
      }
      if (devices.length === 0) {
        console.log('No devices yet. Register one with: appia device add --name "My PC"');
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
