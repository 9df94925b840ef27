import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `appia serve` in its own process, on a free port, quiet; resolves with its URL once it listens */
export async function spawnServer(dataDir: string, flags: string[]): Promise<{ url: string; child: ChildProcess }> {
  const bin = fileURLToPath(new URL('../../../bin/appia.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data', dataDir, '--log-level', 'silent', '--rate-limit', '0', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += String(chunk);
      const m = /Appia listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`appia serve exited with ${code} before listening: ${out}`)));
  });
  return { url, child };
}
