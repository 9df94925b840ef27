import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cli.js';

/** `parseArgs`, with its errors (unknown option, missing value) said as usage errors instead of a stack trace. */
export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new CliError(`${(err as Error).message.split('. ')[0]} (see --help)`);
    }
    throw err;
  }
}
