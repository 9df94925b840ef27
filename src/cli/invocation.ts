import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * How the person at the terminal runs `appia`: `appia` when a program of
 * that name is on their PATH (a global or linked install), `npx appia` when
 * it is not (bin/appia.js run from a checkout, by `npx appia` or
 * `node bin/appia.js`). Every hint the CLI prints is written with it, so
 * the hints can be pasted as they are.
 *
 * @example
 * appiaCommand({ PATH: '/usr/bin' }, 'linux') // 'npx appia' (no appia in /usr/bin)
 */
export function appiaCommand(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): 'appia' | 'npx appia' {
  // `npx appia` puts the package's own bin on PATH while it runs: say it the way the user ran it.
  if (env['npm_command'] === 'exec') return 'npx appia';
  return onPath('appia', env, platform) ? 'appia' : 'npx appia';
}

let cached: string | undefined;

/**
 * A hint: `hint('devices')` is `appia devices` or `npx appia devices`
 * (see {@link appiaCommand}; decided once per process).
 */
export function hint(args: string): string {
  cached ??= appiaCommand();
  return `${cached} ${args}`;
}

function onPath(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): boolean {
  const path = env['PATH'] ?? env['Path'] ?? '';
  const extensions = platform === 'win32' ? (env['PATHEXT'] ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean) : [''];
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    for (const ext of extensions) {
      try {
        accessSync(join(dir, name + ext), platform === 'win32' ? constants.F_OK : constants.X_OK);
        return true;
      } catch {
        // not here
      }
    }
  }
  return false;
}
