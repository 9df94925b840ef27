import { parseCliArgs } from '../args.js';
import { summaryLine } from '../batch-summary.js';
import { CliError, type CliCommand } from '../cli.js';
import { ApiClient, reportingApiErrors, serverOptionsHelp, serverTarget, SERVER_OPTIONS } from '../http-client.js';
import { hint } from '../invocation.js';
import { fields, printJson } from '../output.js';
import { asBatch, followBatch } from './send-batch.js';

const BATCH_OPTIONS = { ...SERVER_OPTIONS, wait: { type: 'boolean' } } as const;

/**
 * `appia batch BATCH` (DESIGN 9): where a batch stands, however it was sent
 * (`appia send --all`, the API, the console); `--wait` follows it as
 * `send --wait` does; `appia batch cancel BATCH` cancels what is not final.
 */
export const batchCommand: CliCommand = {
  name: 'batch',
  summary: 'show or follow a command batch (--wait), or cancel it',
  help: () => `Usage: ${hint('batch BATCH [--wait] [--json]')}
       ${hint('batch cancel BATCH [--json]')}

Shows a batch of commands sent to many devices (its id is printed by
\`${hint('send --all')}\`, and returned by POST /beta/me/commandBatches): how many of its
commands completed, failed, were canceled or are still waiting.
With --wait: stays until every command is final, showing each change; exits 0 only
when every command completed.
cancel: asks to cancel every command of the batch that is not final yet.

Options:
  --wait         follow the batch until every command is final
${serverOptionsHelp()}`,
  async run(args) {
    const { values, positionals } = parseCliArgs({ args: [...args], options: BATCH_OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(this.help());
      return 0;
    }
    const cancel = positionals[0] === 'cancel';
    const ids = cancel ? positionals.slice(1) : positionals;
    if (ids.length !== 1) throw new CliError(`usage: ${hint('batch BATCH [--wait]')} or ${hint('batch cancel BATCH')}`);
    if (cancel && values.wait) throw new CliError(`--wait follows a batch: ${hint('batch BATCH --wait')} after the cancel`);
    const client = new ApiClient(serverTarget(values));
    const path = `/me/commandBatches/${encodeURIComponent(ids[0]!)}`;
    return reportingApiErrors(async () => {
      const batch = asBatch(cancel ? await client.post(`${path}/cancel`, {}) : await client.get(path));
      if (values.wait) return followBatch(client, batch, values.json === true);
      if (values.json) {
        printJson(batch);
        return 0;
      }
      console.log(
        fields([
          ['Batch', batch.id],
          ['Created', batch.createdDateTime],
          ['Status', summaryLine(batch)],
          ['Done', batch.done ? 'yes: every command is final' : 'no'],
        ]),
      );
      return 0;
    });
  },
};
