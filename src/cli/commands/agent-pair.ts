import { hostname } from 'node:os';
import { saveAgentConfig } from '../../agent/agent-config.js';
import { pairDevice, PairingError, type PairingOptions } from '../../device/index.js';
import { CliError } from '../cli.js';
import { hint } from '../invocation.js';
import { escapeControl } from '../terminal-text.js';

/**
 * `appia agent --pair` (DESIGN 10): shows the code, waits for its approval
 * and keeps the device token in the agent's config. Resolves with the token,
 * or undefined when stopped (Ctrl-C) before the approval came.
 */
export async function pairAgent(options: { server: string; configPath: string; name: string | undefined; signal: AbortSignal }): Promise<string | undefined> {
  const print = (line: string) => console.log(escapeControl(line));
  print(`asking ${options.server} to pair this machine ...`);
  let paired;
  let unreachable = false;
  try {
    paired = await pairDevice({
      url: options.server,
      device: thisDevice(options.name),
      signal: options.signal,
      onCode: ({ userCode, verificationUri, verificationUriComplete, expiresIn }) => {
        print('');
        print(`  To pair this device, approve the code  ${userCode}`);
        // the link opens the console with the code filled in ("Pair a device")
        print(`  in the console:  ${verificationUriComplete ?? verificationUri}`);
        print(`  or run:          ${hint(`device approve ${userCode}`)}`);
        print('');
        print(`The code expires in ${duration(expiresIn)}. Waiting for the approval (Ctrl-C to stop) ...`);
      },
      onSlowDown: (seconds) => print(`the server asked for slower polling: every ${seconds} s now`),
      onUnreachable: (reason) => {
        // said once: the polls go on until the code expires
        if (unreachable) return;
        unreachable = true;
        print(`${reason}; still waiting for the approval`);
      },
    });
  } catch (err) {
    if (options.signal.aborted) {
      print('stopped before the code was approved');
      return undefined;
    }
    if (err instanceof PairingError) throw new CliError(err.message, 1);
    throw err;
  }
  try {
    await saveAgentConfig(options.configPath, { server: options.server, ...paired });
  } catch (err) {
    // the token exists only in this process now: say so rather than lose it silently
    throw new CliError(`paired as device ${paired.deviceId}, but its token could not be saved to ${options.configPath} (${(err as Error).message}); remove the device and pair again`, 1);
  }
  print(`paired: this machine is device ${paired.deviceId}; its token is kept in ${options.configPath} (readable by you only)`);
  return paired.deviceToken;
}

/** `expiresIn` seconds as a person reads it: "10 minutes", "1 minute", "45 seconds". */
function duration(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} seconds`;
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** This machine as it asks to be registered (`--name` overrides the name). */
function thisDevice(name?: string): PairingOptions['device'] {
  const platforms: Partial<Record<NodeJS.Platform, string>> = { linux: 'Linux', darwin: 'macOS', win32: 'Windows' };
  return { name: name?.trim() || hostname(), kind: 'Desktop', platform: platforms[process.platform] ?? process.platform };
}
