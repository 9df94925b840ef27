// One command as it happens: its timeline from the command's own event
// stream (history first, then live, ending at a final status), its answer
// or error, and a Cancel button while it can still be canceled.

import { useEffect, useRef, useState } from 'preact/hooks';
import { commandPath } from './api.js';
import { describe } from './commands.js';
import { html } from './html.js';
import { followEvents } from './sse.js';
import { isFinal, meaning } from './status.js';
import { Timeline } from './timeline.js';

const TICK_MS = 250;

/** The command, its history so far, and whether its stream has reached a final status. */
function useCommandStream(api, deviceId, commandId) {
  const [command, setCommand] = useState(null);
  const [history, setHistory] = useState([]);
  const [error, setError] = useState(null);

  useEffect(() => {
    const controller = new AbortController();
    let final = false;
    let reading = null;
    let again = false;
    setCommand(null);
    setHistory([]);
    setError(null);
    // Read the command after changes (one read at a time): customStatus, error and responsePayload live there.
    const refresh = async () => {
      if (reading) return void (again = true);
      do {
        again = false;
        reading = api.command(deviceId, commandId).then(
          (c) => !controller.signal.aborted && setCommand(c),
          (e) => !controller.signal.aborted && setError(e),
        );
        await reading;
      } while (again && !controller.signal.aborted);
      reading = null;
    };
    refresh();
    followEvents(`${commandPath(deviceId, commandId)}/events`, {
      token: api.token,
      signal: controller.signal,
      isDone: () => final,
      onEvent(change, id) {
        if (isFinal(change.status)) final = true;
        setHistory((h) => (h.some((e) => e.id === id) ? h : [...h, { ...change, id }]));
        refresh();
      },
    }).catch((e) => !controller.signal.aborted && setError(e));
    return () => controller.abort();
  }, [api, deviceId, commandId]);

  return { command, history, error, setCommand };
}

export function CommandDetail({ api, deviceId, commandId, announce }) {
  const { command, history, error, setCommand } = useCommandStream(api, deviceId, commandId);
  const [now, setNow] = useState(Date.now());
  const [cancelError, setCancelError] = useState(null);
  const [canceling, setCanceling] = useState(false);
  const latest = history.length ? history[history.length - 1].status : command?.status;
  const done = latest !== undefined && isFinal(latest);
  const announced = useRef(null);

  useEffect(() => {
    if (done) return undefined;
    const timer = setInterval(() => setNow(Date.now()), TICK_MS);
    return () => clearInterval(timer);
  }, [done]);

  useEffect(() => {
    if (!latest || !command || announced.current === `${commandId} ${latest}`) return;
    announced.current = `${commandId} ${latest}`;
    announce(`Command ${describe(command)}: ${latest}, ${meaning(latest)}.`);
  }, [latest, command && command.id]);

  async function cancel() {
    setCancelError(null);
    setCanceling(true);
    try {
      setCommand(await api.cancel(deviceId, commandId));
    } catch (e) {
      setCancelError(e);
    } finally {
      setCanceling(false);
    }
  }

  const asking = canceling || latest === 'cancel' || latest === 'cancelling';
  return html`
    <section class="card detail" aria-labelledby="detail-title">
      <div class="detail-head">
        <div>
          <h2 id="detail-title">${command ? describe(command) : 'Command'}</h2>
          <p class="muted mono">${commandId}</p>
        </div>
        ${latest && !done
          ? html`<button type="button" class="danger" onClick=${cancel} disabled=${asking}>${asking ? 'Canceling…' : 'Cancel command'}</button>`
          : null}
      </div>
      ${error ? html`<p class="error-text" role="alert"><strong>${error.code || 'Error'}:</strong> ${error.message}</p>` : null}
      ${cancelError ? html`<p class="error-text" role="alert"><strong>${cancelError.code || 'Error'}:</strong> ${cancelError.message}</p>` : null}
      <${Timeline} history=${history} now=${now} />
      ${command && command.customStatus && latest === 'custom' ? html`<p><span class="label">Custom status</span> <span class="device-text">${command.customStatus}</span></p>` : null}
      ${command && command.error ? html`<div class="answer"><h3>Error</h3><p class="error-text device-text">${command.error}</p></div>` : null}
      ${command && command.responsePayload
        ? html`<div class="answer">
            <h3 id="payload-title">Response payload</h3>
            <pre class="json" tabindex="0" aria-labelledby="payload-title">${JSON.stringify(command.responsePayload, null, 2)}</pre>
          </div>`
        : null}
    </section>
  `;
}
