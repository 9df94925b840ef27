// The caller's devices with their presence. There is no presence stream
// (DESIGN 2), so the list is read again every 2 s while the page is visible.

import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';

const POLL_MS = 2000;

/**
 * Keeps `api.devices()` fresh: now, every POLL_MS while the tab is visible,
 * and at once when it becomes visible again.
 */
export function useDevices(api) {
  const [state, setState] = useState({ devices: null, error: null });
  const latest = useRef(api);
  latest.current = api;

  useEffect(() => {
    let timer;
    let stopped = false;
    async function refresh() {
      clearTimeout(timer);
      try {
        const devices = await latest.current.devices();
        if (!stopped) setState({ devices, error: null });
      } catch (error) {
        if (!stopped) setState((s) => ({ devices: s.devices, error }));
      }
      if (!stopped && document.visibilityState === 'visible') timer = setTimeout(refresh, POLL_MS);
    }
    const onVisibility = () => {
      if (document.visibilityState === 'visible') refresh();
      else clearTimeout(timer);
    };
    document.addEventListener('visibilitychange', onVisibility);
    refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, []);
  return state;
}

export function DeviceList({ devices, error, selectedId, onSelect }) {
  return html`
    <section class="card devices" aria-labelledby="devices-title">
      <h2 id="devices-title">Devices</h2>
      ${error ? html`<p class="error-text" role="alert">Could not read the devices: ${error.message}</p>` : null}
      ${devices === null
        ? html`<p class="muted">Loading…</p>`
        : devices.length === 0
          ? html`<p class="muted">No devices yet. Run <code>appia agent --pair</code> on one and approve its code below.</p>`
          : html`<ul class="device-list">
              ${devices.map(
                (d) => html`<li key=${d.id}>
                  <button type="button" class="device" aria-pressed=${d.id === selectedId ? 'true' : 'false'} onClick=${() => onSelect(d.id)}>
                    <span class="device-name">${d.name}</span>
                    <span class="device-meta muted">${[d.kind, d.platform].filter(Boolean).join(' · ') || 'device'}</span>
                    <span class=${`presence p-${String(d.status).toLowerCase()}`}><span class="dot" aria-hidden="true"></span>${d.status}</span>
                  </button>
                </li>`,
              )}
            </ul>`}
    </section>
  `;
}
