import { parseCliArgs } from '../args.js';
import type { CommandJson } from '../types.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, resolveDevice, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { printJson, table, withoutAnnotations } from '../output.js';
import { parseStatus, STATUSES } from '../../domain/status.js';

const LIST_OPTIONS = {
  ...SERVER_OPTIONS,
  status: { type: 'string' },
  top: { type: 'string' },
  all: { type: 'boolean' },
} as const;

interface Page {
  readonly value: CommandJson[];
  readonly '@odata.nextLink'?: string;
}

export const commandsCommand: CliCommand = {
  name: 'commands',
  summary: 'list a device\'s commands, newest first',
  help: () => `Usage: ${hint('commands DEVICE [--status S] [--top N] [--all] [--json]')}

Lists the commands of one of your devices (by id, or by name), newest first:
id, type, status, created, last modified. One page unless --all.

  --status S   only the commands in this status (one of: ${STATUSES.join(', ')})
  --top N      at most N commands per page (the server's default page is 100)
  --all        every page, following @odata.nextLink

With --json: {"value": [the commands as the API returns them], "@odata.nextLink"?}.

Options:
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: LIST_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    if (positionals.length !== 1) throw new CliError(`usage: ${hint('commands DEVICE [--status S] [--top N] [--all]')}`);
    const query = new URLSearchParams();
    if (values.status !== undefined) {
      const status = parseStatus(values.status);
      if (!status) throw new CliError(`--status must be one of ${STATUSES.join(', ')} (got ${JSON.stringify(values.status)})`);
      query.set('$filter', `status eq '${status}'`);
    }
    if (values.top !== undefined) {
      if (!/^\d{1,9}$/.test(values.top) || Number(values.top) < 1) throw new CliError(`--top must be a whole number of at least 1 (got ${JSON.stringify(values.top)})`);
      query.set('$top', values.top);
    }
    const client = new ApiClient(serverTarget(values));
    return reportingApiErrors(async () => {
      const device = await resolveDevice(client, positionals[0]!);
      const search = query.size > 0 ? `?${query.toString()}` : '';
      const path = `/me/devices/${encodeURIComponent(device.id)}/commands${search}`;
      let commands: CommandJson[];
      let nextLink: string | undefined;
      if (values.all) {
        commands = await client.all<CommandJson>(path);
      } else {
        const page = await client.get<Page>(path);
        commands = page.value;
        nextLink = page['@odata.nextLink'];
      }
      if (values.json) {
        printJson({ value: commands.map(withoutAnnotations), ...(nextLink ? { '@odata.nextLink': nextLink } : {}) });
        return 0;
      }
      if (commands.length === 0) {
        console.log(values.status === undefined ? 'No commands yet.' : `No commands are ${parseStatus(values.status)}.`);
        return 0;
      }
      console.log(table(['ID', 'TYPE', 'STATUS', 'CREATED', 'LAST MODIFIED'], commands.map((c) => [c.id, c.type, c.status, c.createdDateTime, c.lastModifiedDateTime])));
      if (nextLink) console.log(`\n(more on the next page: add --all to list them all)`);
      return 0;
    });
  },
};
