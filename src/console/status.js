// What the console needs to know about the 14 statuses (DESIGN 3): which
// are final, and a short plain-words description for people and screen readers.

export const FINAL_STATUSES = ['completed', 'failedToSend', 'executionFailed', 'commandDropped', 'canceled', 'expired', 'error'];

const finalSet = new Set(FINAL_STATUSES);

export function isFinal(status) {
  return finalSet.has(status);
}

const MEANING = {
  requesting: 'stored, waiting for the device',
  sentToTarget: 'written to the device',
  executing: 'the device has it',
  custom: 'the device reported progress',
  retry: 'delivery will be tried again',
  cancel: 'cancel asked',
  cancelling: 'cancel sent to the device',
  completed: 'the device answered',
  failedToSend: 'could not be delivered',
  executionFailed: 'the device reported a failure',
  commandDropped: 'the device dropped it',
  canceled: 'canceled',
  expired: 'expired before it finished',
  error: 'could not be processed',
};

export function meaning(status) {
  return MEANING[status] ?? status;
}

/** Milliseconds as a short human duration: 850 ms, 4.2 s, 3 min 5 s. */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A wall-clock time with milliseconds, in the viewer's time zone. */
export function formatTime(iso) {
  const d = new Date(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
