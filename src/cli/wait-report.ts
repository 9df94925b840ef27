import type { CommandJson, DeviceRef } from './types.js';
import { followCommand } from './follow.js';
import type { ApiClient, ServerTarget } from './http-client.js';
import { compactJson, fields, printJson, withoutAnnotations } from './output.js';
import { escapeControl } from './terminal-text.js';

export interface WaitOptions {
  /** `--json`: print nothing until the end, then the final command */
  readonly json: boolean;
  /** the first line (not printed with --json), e.g. "Command X sent to Y" */
  readonly intro: string;
  /** the final status that exits 0; any other final status exits 1 */
  readonly success: string;
}

/**
 * `--wait` (send, cancel): prints each status change as it happens (or, with
 * `--json`, nothing until the end), then the final command with its error
 * or response payload. Resolves with the exit code.
 *
 * @example
 * return waitAndReport(target, client, device, created, { json: false, intro: `Command ${created.id} sent`, success: SUCCEEDED });
 */
export async function waitAndReport(target: ServerTarget, client: ApiClient, device: DeviceRef, command: CommandJson, options: WaitOptions): Promise<number> {
  if (!options.json) console.log(escapeControl(`${options.intro}; waiting for it to finish (Ctrl-C stops waiting, not the command):`));
  const final = await followCommand(target, device.id, command.id, (event) => {
    if (!options.json) console.log(escapeControl(`  ${event.dateTime.slice(11, 23)}  ${event.status}${event.detail ? `  ${event.detail}` : ''}`));
  });
  const path = `/me/devices/${encodeURIComponent(device.id)}/commands/${encodeURIComponent(command.id)}`;
  const shown = withoutAnnotations(await client.get<CommandJson>(path));
  if (options.json) {
    printJson(shown);
  } else {
    const label = 'Response payload';
    console.log(
      '\n' +
        fields([
          ['Status', shown.status],
          ...(shown.error ? [['Error', shown.error] as const] : []),
          [label, shown.responsePayload == null ? null : compactJson(shown.responsePayload, ' '.repeat(label.length + 2))],
        ]),
    );
  }
  return final === options.success ? 0 : 1;
}
