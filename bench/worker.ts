// Entry of the benchmark's worker processes (ProcessTracker.startWorker):
// receives one role to run over IPC, reports 'ready', runs until told to stop
// or until its parent goes away.
import { fileURLToPath } from 'node:url';
import type { RunningRole } from './lib/role.js';
import { errorText } from './lib/time.js';
import type { ParentMessage, WorkerMessage } from './lib/processes.js';
import { roles } from './roles.js';


function reply(message: WorkerMessage): void {
  process.send?.(message);
}

function serve(): void {
  let running: RunningRole<unknown> | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await running?.stop();
    } finally {
      process.exit(0);
    }
  };
  // The parent's IPC channel closes when it exits, however it exits.
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stop') return void stop();
    const start = roles[message.role] as (options: unknown) => Promise<RunningRole<unknown>>;
    start(message.options).then(
      (role) => {
        running = role;
        reply({ type: 'ready', info: role.info });
      },
      (error: unknown) => reply({ type: 'failed', error: errorText(error) }),
    );
  });
}

if (process.send !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) serve();
