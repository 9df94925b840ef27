import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { isAppiaError } from '../domain/errors.js';

/**
 * The one line `appia serve` prints when the server cannot start for a
 * reason the user can fix (DESIGN 7: say so in one line, exit non-zero):
 * the port is taken, a TLS file is missing or wrong, the data folder cannot
 * be used. Undefined for anything else (a bug), which keeps its stack.
 *
 * @example
 * startFailure(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), config)
 * // 'port 8080 is already in use on 127.0.0.1; stop the other process or pass --port'
 */
export function startFailure(err: unknown, config: Config): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, path, syscall } = err as NodeJS.ErrnoException;
  const reason = err.message.replace(/^\w+: /, '');

  if (syscall === 'listen' || syscall === 'bind') {
    if (code === 'EADDRINUSE') return `port ${config.port} is already in use on ${config.host}; stop the other process or pass --port`;
    if (code === 'EACCES') return `no permission to listen on port ${config.port} of ${config.host}; pass --port with a port above 1023`;
    if (code === 'EADDRNOTAVAIL') return `${config.host} is not an address of this machine; pass --host (127.0.0.1 by default)`;
  }
  if (path !== undefined) {
    if (path === config.tlsCert) return `cannot read the TLS certificate ${path} (${reason}); check --tls-cert`;
    if (path === config.tlsKey) return `cannot read the TLS private key ${path} (${reason}); check --tls-key`;
    if (isUnder(path, config.dataDir)) return `cannot use the data folder ${resolve(config.dataDir)} (${reason}); pass --data with a folder you can write`;
  }
  // OpenSSL's refusals of a certificate or key (not PEM, a key that does not match, ...)
  if (typeof code === 'string' && code.startsWith('ERR_OSSL') && config.tlsCert) {
    return `the TLS certificate ${config.tlsCert} and key ${config.tlsKey} cannot be used (${err.message}); check --tls-cert and --tls-key`;
  }
  if (typeof code === 'string' && /^SQLITE_(CANTOPEN|READONLY|PERM|NOTADB|CORRUPT)/.test(code)) {
    return `cannot use the database in the data folder ${resolve(config.dataDir)} (${err.message}); pass --data with a folder you can write`;
  }
  // A store or bus that cannot be reached (DESIGN 7): its message names the URL, never a password.
  if (isAppiaError(err) && err.code === 'unavailable') return err.message;
  // Appia's own start-up refusals are plain Errors whose message already says the fix
  // (a signing key readable by others, an unsupported setting).
  if (err.constructor === Error && code === undefined) return err.message;
  return undefined;
}

function isUnder(path: string, dir: string): boolean {
  const full = resolve(path);
  const root = resolve(dir);
  return full === root || full.startsWith(root.endsWith('/') || root.endsWith('\\') ? root : `${root}/`) || full.startsWith(`${root}\\`);
}
