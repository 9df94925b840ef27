import { ConfigError, parseConfig, settingsHelp } from '../../config.js';
import { CliError, type CliCommand } from '../cli.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  usage: 'serve [--port 8080] [--data ./appia-data] [--host 127.0.0.1] ...',
  summary: 'run the server (embedded SQLite and token issuer by default)',
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      console.log(`Usage: appia serve [options]\n\nEvery option also has an environment variable; a flag wins over it.\n\n${settingsHelp()}`);
      return 0;
    }
    let config;
    try {
      config = parseConfig(args, process.env);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
    // Loaded here, not at the top: the other commands start without the server's modules.
    const { startAppia } = await import('../../server.js');
    const running = await startAppia(config);
    running.app.log.info(`Appia listening on ${running.url} (data in ${config.dataDir})`);
    if (config.logLevel === 'silent') console.log(`Appia listening on ${running.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        running.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
