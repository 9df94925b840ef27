// The selected device's commands, newest first, kept current by the user's
// event stream (each change names its command and device).

import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { formatTime, isFinal } from './status.js';

/** A command in a few words: what it asks the device to do. */
export function describe(command) {
  if (command.type === 'LaunchUri') return `Launch ${command.payload?.uri ?? 'URI'}`;
  return `${command.appServiceName ?? 'app service'} · ${command.packageFamilyName ?? ''}`;
}

/**
 * The device's newest commands. Each change from the user's event stream
 * (`hub`, see events.js) updates a listed command's status; a change of an
 * unlisted command of this device makes the list be read again.
 * `add(command)` puts a command just sent at the top.
 */
export function useCommands(api, deviceId, hub) {
  const [state, setState] = useState({ deviceId: null, commands: [], error: null });
  const [reload, setReload] = useState(0);
  const current = useRef(state);
  current.current = state;

  useEffect(() => {
    if (!deviceId) return undefined;
    let stopped = false;
    api.commands(deviceId).then(
      (commands) => !stopped && setState((s) => ({ deviceId, commands: merge(commands, s.deviceId === deviceId ? s.commands : []), error: null })),
      (error) => !stopped && setState((s) => ({ ...s, error })),
    );
    return () => {
      stopped = true;
    };
  }, [api, deviceId, reload]);

  useEffect(
    () =>
      hub.subscribe((change) => {
        if (change.deviceId !== deviceId) return;
        if (!current.current.commands.some((c) => c.id === change.commandId)) {
          setReload((n) => n + 1);
          return;
        }
        setState((s) => ({ ...s, commands: s.commands.map((c) => (c.id === change.commandId ? { ...c, status: change.status, lastModifiedDateTime: change.dateTime } : c)) }));
      }),
    [hub, deviceId],
  );

  const add = (command) => setState((s) => ({ ...s, commands: merge([command], s.commands) }));
  return state.deviceId === deviceId ? { ...state, add } : { commands: [], error: null, add };
}

/**
 * The listed commands, newest first; of two copies of one command the one
 * modified last wins, so a slow read never puts back an older status.
 */
function merge(incoming, known) {
  const byId = new Map(known.map((c) => [c.id, c]));
  for (const c of incoming) {
    const old = byId.get(c.id);
    const newer = !old || old.lastModifiedDateTime < c.lastModifiedDateTime;
    if (newer || (old.lastModifiedDateTime === c.lastModifiedDateTime && !isFinal(old.status))) byId.set(c.id, c);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, 25);
}

export function CommandList({ commands, error, selectedId, onSelect }) {
  return html`
    <section class="card commands" aria-labelledby="commands-title">
      <h2 id="commands-title">Commands</h2>
      ${error ? html`<p class="error-text" role="alert">Could not read the commands: ${error.message}</p>` : null}
      ${commands.length === 0
        ? html`<p class="muted">No commands yet for this device.</p>`
        : html`<ul class="command-list">
            ${commands.map(
              (c) => html`<li key=${c.id}>
                <button type="button" class="command" aria-pressed=${c.id === selectedId ? 'true' : 'false'} onClick=${() => onSelect(c.id)}>
                  <span class=${`badge s-${c.status}`}>${c.status}</span>
                  <span class="command-what">${describe(c)}</span>
                  <time class="muted" datetime=${c.createdDateTime}>${formatTime(c.createdDateTime)}</time>
                </button>
              </li>`,
            )}
          </ul>`}
    </section>
  `;
}
