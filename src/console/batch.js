// A command batch (DESIGN 9) as a grid of its devices, each coloured by the
// status of its command, kept current by the user's event stream (each
// change of a batch command names its batch and device).

import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { isFinal } from './status.js';

/** `3 devices: 2 completed, 1 failed, 1 waiting`: the same words as `appia send --wait` */
export function batchSummary(statuses) {
  const groups = { completed: 0, failed: 0, canceled: 0, waiting: 0 };
  for (const status of statuses) {
    if (status === 'completed') groups.completed++;
    else if (status === 'canceled') groups.canceled++;
    else if (isFinal(status)) groups.failed++;
    else groups.waiting++;
  }
  const parts = [`${groups.completed} completed`];
  for (const name of ['failed', 'canceled', 'waiting']) if (groups[name] > 0) parts.push(`${groups[name]} ${name}`);
  return `${statuses.length} ${statuses.length === 1 ? 'device' : 'devices'}: ${parts.join(', ')}`;
}

/** Of two copies of a command's status, the later wins; at the same time a final one. */
function newer(old, next) {
  if (!old) return true;
  return old.at < next.at || (old.at === next.at && !isFinal(old.status));
}

/** The batch's commands by id (`{ deviceId, status, at }`), read once and then moved by the stream. */
export function useBatch(api, batchId, hub) {
  const [state, setState] = useState({ batchId, commands: new Map(), loaded: false, error: null });

  useEffect(() => {
    let stopped = false;
    // subscribed first: a change while the list is read is not lost (the later copy wins)
    const unsubscribe = hub.subscribe((change) => {
      if (change.batchId !== batchId) return;
      setState((s) => {
        const next = { deviceId: change.deviceId, status: change.status, at: change.dateTime };
        if (!newer(s.commands.get(change.commandId), next)) return s;
        return { ...s, commands: new Map(s.commands).set(change.commandId, next) };
      });
    });
    api.batchCommands(batchId).then(
      (commands) =>
        !stopped &&
        setState((s) => {
          const map = new Map(s.commands);
          for (const c of commands) {
            const next = { deviceId: c.deviceId, status: c.status, at: c.lastModifiedDateTime };
            if (newer(map.get(c.id), next)) map.set(c.id, next);
          }
          return { ...s, commands: map, loaded: true };
        }),
      (error) => !stopped && setState((s) => ({ ...s, error })),
    );
    return () => {
      stopped = true;
      unsubscribe();
    };
  }, [api, batchId, hub]);
  return state;
}

export function BatchGrid({ api, batchId, devices, hub, onClose }) {
  const { commands, loaded, error } = useBatch(api, batchId, hub);
  const [cancelError, setCancelError] = useState(null);
  const names = new Map((devices ?? []).map((d) => [d.id, d.name]));
  const cells = [...commands.entries()]
    .map(([commandId, c]) => ({ commandId, ...c, name: names.get(c.deviceId) ?? c.deviceId }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const statuses = cells.map((c) => c.status);
  const done = loaded && statuses.every(isFinal);

  async function cancel() {
    setCancelError(null);
    try {
      await api.cancelBatch(batchId);
    } catch (err) {
      setCancelError(err);
    }
  }

  return html`
    <section class="card batch" aria-labelledby="batch-title" data-batch=${batchId}>
      <div class="batch-head">
        <h2 id="batch-title">Batch <span class="muted">${batchId.slice(0, 12)}…</span></h2>
        <div class="actions">
          <button type="button" class="danger" disabled=${done} onClick=${cancel}>Cancel batch</button>
          <button type="button" class="quiet" onClick=${onClose}>Close</button>
        </div>
      </div>
      <p class="batch-summary" role="status" aria-live="polite">${loaded ? batchSummary(statuses) : 'Reading the batch…'}</p>
      ${error ? html`<p class="error-text" role="alert">Could not read the batch: ${error.message}</p>` : null}
      ${cancelError ? html`<p class="error-text" role="alert"><strong>${cancelError.code || 'Error'}:</strong> ${cancelError.message}</p>` : null}
      <ul class="batch-grid" aria-label="Devices of the batch">
        ${cells.map(
          (c) => html`<li key=${c.commandId} class=${`cell s-${c.status}`} data-device=${c.deviceId} data-status=${c.status} title=${`${c.name}: ${c.status}`}>
            <span class="cell-name">${c.name}</span>
            <span class="cell-status">${c.status}</span>
          </li>`,
        )}
      </ul>
    </section>
  `;
}
