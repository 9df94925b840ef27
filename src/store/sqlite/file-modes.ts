import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** DESIGN 8: the database and its companions are their owner's only. */
const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;

/**
 * Makes the database's folder (0700) and the database file (0600) before
 * SQLite opens it, and tightens ones that already exist, with the `-wal`,
 * `-shm` and `-journal` files beside them. SQLite creates its `-wal` and
 * `-shm` with the database file's own mode, so a database made here never
 * has companions that others can read. (Payloads and permission tickets
 * are in all of them.) Nothing to do on Windows, whose files have ACLs.
 */
export function ownerOnlyDatabaseFiles(path: string): void {
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
  if (process.platform === 'win32') return;
  chmodSync(folder, FOLDER_MODE);
  closeSync(openSync(path, 'a', FILE_MODE));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      chmodSync(file, FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
