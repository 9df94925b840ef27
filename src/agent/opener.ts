import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** The program that opens a URI with the user's default handler, and its arguments. */
export interface OpenerInvocation {
  readonly command: string;
  readonly args: readonly string[];
  /** Windows only: the arguments are already quoted for cmd.exe */
  readonly windowsVerbatimArguments?: boolean;
}

/**
 * The platform's opener for a URI: `xdg-open URI` (Linux and other Unix),
 * `open URI` (macOS), `cmd /c start "" URI` (Windows). The URI is always its
 * own argument: it never passes through a shell on Linux or macOS. On
 * Windows `cmd` parses its command line itself, so the URI is quoted and
 * every cmd metacharacter escaped (as cross-spawn does), so `&`, `|`, `%`
 * and the like in a URI stay part of it.
 */
export function openerFor(platform: NodeJS.Platform, uri: string): OpenerInvocation {
  switch (platform) {
    case 'darwin':
      return { command: 'open', args: [uri] };
    case 'win32':
      return {
        command: process.env['ComSpec'] || 'cmd.exe',
        args: ['/d', '/s', '/c', `"start "" ${escapeForCmd(uri)}"`],
        windowsVerbatimArguments: true,
      };
    default:
      return { command: 'xdg-open', args: [uri] };
  }
}

const CMD_META = /([()\][%!^"`<>&|;, *?])/g;

/** Quotes one argument for cmd.exe and escapes its metacharacters with `^`. */
export function escapeForCmd(arg: string): string {
  let quoted = arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\*)$/, '$1$1');
  quoted = `"${quoted}"`;
  return quoted.replace(CMD_META, '^$1');
}

export type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface OpenOptions {
  readonly platform?: NodeJS.Platform;
  readonly spawn?: Spawn;
  /**
   * How long to wait for the opener to exit. Openers normally hand the URI
   * to the desktop and exit at once (a non-zero code means no handler); some
   * (xdg-open without a desktop) run the browser in the foreground, so one
   * still running after this long counts as opened.
   */
  readonly settleMs?: number;
}

/**
 * Opens a URI with the platform's opener. Resolves when it was handed over;
 * rejects with a clear message when the opener is missing or fails.
 */
export function openUri(uri: string, options: OpenOptions = {}): Promise<void> {
  const { command, args, windowsVerbatimArguments } = openerFor(options.platform ?? process.platform, uri);
  const spawn = options.spawn ?? (nodeSpawn as Spawn);
  const settleMs = options.settleMs ?? 3000;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: 'ignore', detached: true, windowsHide: true, ...(windowsVerbatimArguments ? { windowsVerbatimArguments } : {}) });
    } catch (err) {
      reject(new Error(`could not run ${command}: ${(err as Error).message}`));
      return;
    }
    const timer = setTimeout(() => {
      child.unref();
      resolve();
    }, settleMs);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          err.code === 'ENOENT'
            ? `${command} was not found, so the URI cannot be opened on this machine (install it, e.g. xdg-utils, or run the agent with --dry-run)`
            : `could not run ${command}: ${err.message}`,
        ),
      );
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} could not open the URI (${signal ? `killed by ${signal}` : `exit code ${code}`})`));
    });
  });
}
