import { ConfigError, parseConfig, settingsHelp, type Config } from '../../config.js';
import { CliError, type CliCommand } from '../cli.js';
import { hint } from '../invocation.js';
import { startFailure } from '../start-failure.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the server (embedded SQLite and token issuer by default)',
  help: () => `Usage: ${hint('serve [options]')}\n\nEvery option also has an environment variable; a flag wins over it.\n\n${settingsHelp()}`,
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      console.log(this.help());
      return 0;
    }
    let config: Config;
    try {
      config = parseConfig(args, process.env);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    // Loaded here, not at the top: the other commands start without the server's modules.
    const { startAppia } = await import('../../server.js');
    let running;
    try {
      running = await startAppia(config);
    } catch (err) {
      // a setting only the server can judge (an APPIA_POSTBACK_ALLOW entry) stops the start in one line too
      if (err instanceof ConfigError) throw new CliError(err.message);
      const line = startFailure(err, config);
      if (line === undefined) throw err;
      throw new CliError(line, 1);
    }
    running.app.log.info(`Appia listening on ${running.url} (data in ${config.dataDir})`);
    if (config.logLevel === 'silent') console.log(`Appia listening on ${running.url}`);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        running.close(signal).then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
