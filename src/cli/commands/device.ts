import { parseCliArgs } from '../args.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverTarget, SERVER_OPTIONS, SERVER_OPTIONS_HELP } from '../http-client.js';
import { fields, printJson } from '../output.js';

const HELP = `Usage:
  appia device add --name NAME [--kind Desktop] [--platform P] [--model M] [--manufacturer M]
  appia device remove DEVICE

add     registers a device for you and prints its id and its device token (shown once)
remove  removes a device (by id or name): its token stops working, its open commands end

Options:
${SERVER_OPTIONS_HELP}`;

export const deviceCommand: CliCommand = {
  name: 'device',
  usage: 'device add --name NAME [--kind K] | device remove DEVICE',
  summary: 'register a device (prints its device token) or remove one',
  async run(args) {
    const { values, positionals } = parseCliArgs({
      args: [...args],
      options: {
        ...SERVER_OPTIONS,
        name: { type: 'string' },
        kind: { type: 'string' },
        platform: { type: 'string' },
        model: { type: 'string' },
        manufacturer: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    const [action, ...rest] = positionals;
    if (values.help || action === undefined) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    if (action === 'add') {
      if (rest.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(rest[0])}; give the name as --name "${rest.join(' ')}"`);
      if (!values.name?.trim()) throw new CliError('--name NAME is required (e.g. --name "Living room PC")');
      const client = new ApiClient(serverTarget(values));
      return reportingApiErrors(async () => {
        const device = await client.post('/me/devices', {
          name: values.name!.trim(),
          kind: values.kind ?? 'Desktop',
          ...(values.platform ? { platform: values.platform } : {}),
          ...(values.model ? { model: values.model } : {}),
          ...(values.manufacturer ? { manufacturer: values.manufacturer } : {}),
        });
        if (values.json) {
          printJson(device);
          return 0;
        }
        console.log(`Device added: ${device.name}`);
        console.log(
          fields([
            ['id', device.id],
            ['device token', device.deviceToken],
          ]),
        );
        console.log('');
        console.log('The device token is shown only this once; keep it secret. Run the agent on the device with:');
        console.log(`  APPIA_DEVICE_TOKEN=${device.deviceToken} appia agent --server ${client.server}`);
        console.log('(add --dry-run to print launched URIs instead of opening them)');
        return 0;
      });
    }
    if (action === 'remove') {
      if (rest.length !== 1) throw new CliError('usage: appia device remove DEVICE (an id, or a name from `appia devices`)');
      const client = new ApiClient(serverTarget(values));
      return reportingApiErrors(async () => {
        const device = await resolveDevice(client, rest[0]!);
        await client.request('DELETE', `/me/devices/${encodeURIComponent(device.id)}`);
        if (values.json) printJson({ id: device.id, removed: true });
        else console.log(`Device ${device.name ?? device.id} removed.`);
        return 0;
      });
    }
    throw new CliError(`unknown action ${JSON.stringify(action)}: use \`appia device add\` or \`appia device remove\``);
  },
};
