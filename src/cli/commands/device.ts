import { parseCliArgs } from '../args.js';
import type { DeviceJson } from '../types.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { fields, printJson } from '../output.js';
import { escapeControl } from '../terminal-text.js';

const DEVICE_OPTIONS = {
  ...SERVER_OPTIONS,
  name: { type: 'string' },
  kind: { type: 'string' },
  platform: { type: 'string' },
  model: { type: 'string' },
  manufacturer: { type: 'string' },
} as const;

export const deviceCommand: CliCommand = {
  name: 'device',
  summary: 'register a device (prints its device token), approve a pairing code, or remove one',
  help: () => `Usage:
  ${hint('device add --name NAME [--kind Desktop] [--platform P] [--model M] [--manufacturer M]')}
  ${hint('device approve CODE')}
  ${hint('device deny CODE')}
  ${hint('device remove DEVICE')}

add     registers a device for you and prints its id and its device token (shown once)
approve registers the device showing CODE (\`${hint('agent --pair')}\` shows one) as yours; it
        collects its token itself. Case and the dash do not matter
deny    refuses CODE: that device's pairing ends
remove  removes a device (by id or name): its token stops working, its open commands end

With --json: add prints the new device with its deviceToken; approve prints the new device;
deny prints {"userCode", "denied": true}; remove prints {"id", "removed": true}.

Options:
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: DEVICE_OPTIONS, allowPositionals: true, strict: true });
    const [action, ...rest] = positionals;
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (action === 'add') {
      if (rest.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(rest[0])}; give the name as --name "${rest.join(' ')}"`);
      if (!values.name?.trim()) throw new CliError('--name NAME is required (e.g. --name "Living room PC")');
      const client = new ApiClient(serverTarget(values));
      return reportingApiErrors(async () => {
        const device = await client.post<DeviceJson & { deviceToken: string }>('/me/devices', {
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
        console.log(escapeControl(`Device added: ${device.name}`));
        console.log(
          fields([
            ['id', device.id],
            ['device token', device.deviceToken],
          ]),
        );
        console.log('');
        console.log('The device token is shown only this once; keep it secret. Run the agent on the device with:');
        console.log(escapeControl(`  APPIA_DEVICE_TOKEN=${device.deviceToken} ${hint(`agent --server ${client.server}`)}`));
        console.log('(add --dry-run to print launched URIs instead of opening them)');
        return 0;
      });
    }
    if (action === 'approve' || action === 'deny') {
      if (rest.length !== 1 || !rest[0]!.trim()) throw new CliError(`usage: ${hint(`device ${action} CODE`)} (the code \`${hint('agent --pair')}\` shows on the device)`);
      const userCode = rest[0]!.trim();
      const client = new ApiClient(serverTarget(values));
      return reportingApiErrors(async () => {
        if (action === 'deny') {
          await client.post('/me/devicePairings/deny', { userCode });
          if (values.json) printJson({ userCode, denied: true });
          else console.log(escapeControl(`Pairing code ${userCode} denied: that device's pairing ends.`));
          return 0;
        }
        const device = await client.post<DeviceJson>('/me/devicePairings', { userCode });
        if (values.json) {
          printJson(device);
          return 0;
        }
        console.log(escapeControl(`Device paired: ${device.name}`));
        console.log(fields([['id', device.id]]));
        console.log('It collects its device token itself and connects at its next poll (within seconds).');
        return 0;
      });
    }
    if (action === 'remove') {
      if (rest.length !== 1) throw new CliError(`usage: ${hint('device remove DEVICE')} (an id, or a name from \`${hint('devices')}\`)`);
      const client = new ApiClient(serverTarget(values));
      return reportingApiErrors(async () => {
        const device = await resolveDevice(client, rest[0]!);
        await client.request('DELETE', `/me/devices/${encodeURIComponent(device.id)}`);
        if (values.json) printJson({ id: device.id, removed: true });
        else console.log(escapeControl(`Device ${device.name ?? device.id} removed.`));
        return 0;
      });
    }
    if (action === undefined) throw new CliError(`say what to do: \`${hint('device add --name NAME')}\` or \`${hint('device remove DEVICE')}\` (see --help)`);
    throw new CliError(`unknown action ${JSON.stringify(action)}: use \`${hint('device add')}\`, \`${hint('device approve')}\`, \`${hint('device deny')}\` or \`${hint('device remove')}\``);
  },
};
