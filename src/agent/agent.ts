import { connect, type ConnectOptions, type DeviceCommand, type DeviceConnection, type Report } from '../device/index.js';
import { escapeControl } from '../cli/terminal-text.js';
import type { AppServices } from './app-services.js';
import { openUri } from './opener.js';
import { allowedSchemes, refusal } from './scheme-allow-list.js';

export interface AgentOptions {
  /** the Appia server, e.g. http://127.0.0.1:8080 */
  readonly server: string;
  readonly deviceToken: string;
  /** print launched URIs instead of opening them */
  readonly dryRun: boolean;
  readonly appServices: AppServices;
  /** the URI schemes LaunchUri may open (default `allowedSchemes()`: https, http, mailto) */
  readonly allowSchemes?: ReadonlySet<string>;
  /** one human line out, already escaped (default: stdout with the time in front) */
  readonly print?: (line: string) => void;
  /** the URI opener (default: the platform's, see opener.ts) */
  readonly open?: (uri: string) => Promise<void>;
  readonly reconnect?: ConnectOptions['reconnect'];
  /** aborting it stops a pending first connection */
  readonly signal?: AbortSignal;
}

/**
 * `appia agent`: a device built on the SDK. LaunchUri opens the URI with the
 * platform's opener (or only prints it with dryRun) when its scheme is on
 * the allow-list, and fails the command otherwise; AppService commands go
 * to the app services given; each report is printed as one line.
 *
 * Every line goes out through `escapeControl` (DESIGN 4): URIs, app service
 * names, payloads and the server's messages are the other side's text.
 */
export async function startAgent(options: AgentOptions): Promise<DeviceConnection> {
  const sink = options.print ?? ((line: string) => console.log(`${new Date().toTimeString().slice(0, 8)} ${line}`));
  const print = (line: string) => sink(escapeControl(line));
  const open = options.open ?? ((uri: string) => openUri(uri));
  const schemes = options.allowSchemes ?? allowedSchemes();
  const appServices = Object.fromEntries(
    Object.entries(options.appServices).map(([name, service]) => [name, (command: DeviceCommand, ctx: Parameters<typeof service>[1]) => service(command.payload ?? {}, ctx)]),
  );
  print(`connecting to ${options.server} ...`);
  const connection = await connect({
    url: options.server,
    token: options.deviceToken,
    handlers: {
      LaunchUri: async (command) => {
        const uri = command.payload?.['uri'];
        if (typeof uri !== 'string' || uri === '') throw new Error('the LaunchUri command has no payload.uri');
        // DESIGN 4: refused before anything is opened, in a dry run too (it shows what would happen).
        const refused = refusal(uri, schemes);
        if (refused) throw new Error(refused);
        if (options.dryRun) {
          print(`dry run: would open ${uri}`);
          return { uri, dryRun: true };
        }
        await open(uri);
        return { uri };
      },
    },
    appServices,
    ...(options.reconnect ? { reconnect: options.reconnect } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    logger: { info: print, warn: (m) => print(`warning: ${m}`), error: (m) => print(`error: ${m}`) },
  });
  print(`ready: serving LaunchUri${options.dryRun ? ' (dry run)' : ''} for ${[...schemes].join(', ')} and app services ${Object.keys(options.appServices).join(', ')}; Ctrl-C to stop`);
  void (async () => {
    for await (const event of connection.status()) {
      if (event.type === 'report') {
        const line = reportLine(event.report, event.command);
        if (line) print(line);
      }
    }
  })();
  return connection;
}

/** One line per report the agent sends: what happened to which command. */
export function reportLine(report: Report, command: DeviceCommand | undefined): string | undefined {
  switch (report.t) {
    case 'received':
      return `received  ${report.id}  ${command ? describeCommand(command) : ''}`.trimEnd();
    case 'progress':
      return `progress  ${report.id}  ${report.customStatus}`;
    case 'completed':
      return `completed ${report.id}  ${short(JSON.stringify(report.responsePayload))}`;
    case 'failed':
      return `failed    ${report.id}  ${report.error}`;
    case 'dropped':
      return `dropped   ${report.id}  (in standby)`;
    case 'canceled':
      return `canceled  ${report.id}`;
    case 'state':
      return undefined;
  }
}

function describeCommand(command: DeviceCommand): string {
  if (command.type === 'LaunchUri') return `LaunchUri ${String(command.payload?.['uri'] ?? '')}`;
  if (command.type === 'AppService') return `AppService ${command.appServiceName ?? ''} ${short(JSON.stringify(command.payload ?? {}))}`;
  return command.type;
}

function short(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
