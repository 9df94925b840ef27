/** One `appia` subcommand. `run` returns the exit code; long-running ones resolve when they stop. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  /** the text of `appia NAME --help` and `appia help NAME` */
  help(): string;
  run(args: readonly string[]): Promise<number>;
}

/** An error meant for the person at the terminal: printed without a stack. Exit 2 (usage) unless told. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
