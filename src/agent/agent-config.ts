import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What a paired agent keeps (DESIGN 10): the server it paired with, its device id and its device token. */
export interface AgentConfig {
  readonly server: string;
  readonly deviceId: string;
  readonly deviceToken: string;
}

/**
 * Where the agent keeps its config: `--config`, else `$APPIA_AGENT_CONFIG`,
 * else `agent.json` in the user's config folder (`$XDG_CONFIG_HOME/appia`,
 * `~/.config/appia`; `%APPDATA%\appia` on Windows).
 *
 * @example
 * agentConfigPath(undefined, { HOME: '/home/kim' }, 'linux') // '/home/kim/.config/appia/agent.json'
 */
export function agentConfigPath(given: string | undefined, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (given) return given;
  if (env['APPIA_AGENT_CONFIG']) return env['APPIA_AGENT_CONFIG'];
  const base = platform === 'win32' ? (env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming')) : (env['XDG_CONFIG_HOME'] || join(env['HOME'] ?? homedir(), '.config'));
  return join(base, 'appia', 'agent.json');
}

/**
 * Writes the config readable by its owner only (DESIGN 10: the file holds
 * the device token): the folder 0700, the file made 0600 before a byte of
 * it is written, then renamed over the old one so no reader sees half a file.
 */
export async function saveAgentConfig(path: string, config: AgentConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'wx', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(config, null, 2)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    if (process.platform !== 'win32') await chmod(temporary, 0o600); // whatever the umask
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/**
 * The saved config, or undefined when there is none. Throws (a message for
 * the person at the terminal) when it is unreadable, malformed, or readable
 * by others: a token others could read may have leaked.
 */
export async function loadAgentConfig(path: string): Promise<AgentConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the agent's config ${path}: ${(err as Error).message}`);
  }
  if (process.platform !== 'win32') {
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new Error(`${path} holds a device token and others can read it (mode ${mode.toString(8)}): remove the device and pair again, or if no one else could have read it, chmod 600 it`);
    }
  }
  let parsed: Partial<AgentConfig>;
  try {
    parsed = JSON.parse(text) as Partial<AgentConfig>;
  } catch {
    throw new Error(`the agent's config ${path} is not JSON; remove it and pair again`);
  }
  if (typeof parsed.server !== 'string' || typeof parsed.deviceToken !== 'string' || typeof parsed.deviceId !== 'string') {
    throw new Error(`the agent's config ${path} lacks its server, deviceId or deviceToken; remove it and pair again`);
  }
  return { server: parsed.server, deviceId: parsed.deviceId, deviceToken: parsed.deviceToken };
}
