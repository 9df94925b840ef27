import type { BatchJson } from '../batch-summary.js';
import { progressBar, summaryLine } from '../batch-summary.js';
import { CliError } from '../cli.js';
import type { ApiClient } from '../http-client.js';
import { hint } from '../invocation.js';
import { fields, printJson, withoutAnnotations } from '../output.js';
import { escapeControl } from '../terminal-text.js';
import type { DeviceJson } from '../types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** how often a followed batch is read again */
const POLL_MS = 250;

export interface BatchSendOptions {
  readonly all: boolean;
  /** `--devices a,b,c`: ids or names */
  readonly devices: string | undefined;
  readonly kind: string | undefined;
  readonly wait: boolean;
  readonly json: boolean;
}

/**
 * `appia send --all` / `--devices a,b,c` (DESIGN 9): one command to many
 * devices as one batch. With `--wait`, a live summary until every command is
 * final: a progress bar rewritten in place on a terminal, a plain line per
 * change otherwise. Exit 0 only when every command completed.
 */
export async function sendBatch(client: ApiClient, command: Record<string, unknown>, options: BatchSendOptions): Promise<number> {
  const selection = await batchSelection(client, options);
  const batch = asBatch(await client.post('/me/commandBatches', { ...selection, ...command }));
  if (!options.wait) {
    if (options.json) {
      printJson(batch);
      return 0;
    }
    console.log(escapeControl(`Batch sent to ${batch.total} ${batch.total === 1 ? 'device' : 'devices'}.`));
    console.log(fields([['id', batch.id], ['status', summaryLine(batch)]]));
    console.log('');
    console.log(escapeControl(`Send with --wait to follow a batch as it runs; its commands: GET /beta/me/commandBatches/${batch.id}/commands`));
    return 0;
  }
  if (!options.json) console.log(escapeControl(`Batch ${batch.id} sent; waiting for every device (Ctrl-C stops waiting, not the commands):`));
  return followBatch(client, batch, options.json);
}

/**
 * Follows a batch until every command is final: a progress bar rewritten in
 * place on a terminal, a plain line per change otherwise, and with `json` the
 * batch once at the end. Resolves 0 only when every command completed.
 */
export async function followBatch(client: ApiClient, first: BatchJson, json: boolean): Promise<number> {
  let batch = first;
  const live = process.stdout.isTTY === true && !json;
  let shown = '';
  const show = (b: BatchJson) => {
    const line = summaryLine(b);
    if (json || line === shown) return;
    shown = line;
    if (live) process.stdout.write(`\r\x1b[2K${progressBar(b)}  ${line}`);
    else console.log(line);
  };
  show(batch);
  while (!batch.done) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    batch = asBatch(await client.get(`/me/commandBatches/${encodeURIComponent(batch.id)}`));
    show(batch);
  }
  if (live) process.stdout.write('\n');
  if (json) printJson(batch);
  return (batch.counts['completed'] ?? 0) === batch.total ? 0 : 1;
}

export function asBatch(answer: Record<string, unknown>): BatchJson {
  return withoutAnnotations(answer) as unknown as BatchJson;
}

/** the body's device selection: `all` (with its kind), or the ids of the devices named */
async function batchSelection(client: ApiClient, options: BatchSendOptions): Promise<Record<string, unknown>> {
  if (options.all) {
    if (options.devices !== undefined) throw new CliError('give --all or --devices, not both');
    return options.kind === undefined ? { all: true } : { all: true, kind: options.kind };
  }
  if (options.kind !== undefined) throw new CliError('--kind narrows --all; with --devices, list the devices you mean');
  const names = (options.devices ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new CliError('--devices needs a comma-separated list of device ids or names');
  if (names.every((n) => UUID.test(n))) return { deviceIds: names };
  const devices = await client.all<DeviceJson>('/me/devices');
  return {
    deviceIds: names.map((name) => {
      if (UUID.test(name)) return name;
      const matches = devices.filter((d) => d.name.toLowerCase() === name.toLowerCase());
      if (matches.length === 1) return matches[0]!.id;
      if (matches.length === 0) throw new CliError(`no device is named ${JSON.stringify(name)} (${hint('devices')} lists them)`, 1);
      throw new CliError(`${matches.length} devices are named ${JSON.stringify(name)}; give the device id instead`, 1);
    }),
  };
}
