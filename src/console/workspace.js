// The signed-in console: devices and the rate chart on the side; the send
// form, the device's commands and the chosen command's timeline in the main column.

import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { DeviceList, useDevices } from './devices.js';
import { PairForm } from './pairing.js';
import { useUserEvents } from './events.js';
import { CommandList, useCommands } from './commands.js';
import { CommandDetail } from './command-detail.js';
import { SendForm } from './send-form.js';
import { BatchGrid } from './batch.js';
import { RateChart, WINDOW_SECONDS } from './chart.js';
import { isFinal } from './status.js';

/** Final statuses seen on the user's stream in the last minute, for the chart. */
function useFinals(hub) {
  const [finals, setFinals] = useState([]);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => {
      const t = Date.now();
      setNow(t);
      setFinals((f) => (f.length && f[0].at < t - WINDOW_SECONDS * 1000 ? f.filter((x) => x.at >= t - WINDOW_SECONDS * 1000) : f));
    }, 1000);
    const unsubscribe = hub.subscribe((change) => {
      if (isFinal(change.status)) setFinals((f) => [...f, { status: change.status, at: Date.now() }]);
    });
    return () => (clearInterval(timer), unsubscribe());
  }, [hub]);
  return { finals, now };
}

/** Says presence changes once they happen (not on the first read). */
function usePresenceAnnouncements(devices, announce) {
  const seen = useRef(null);
  useEffect(() => {
    if (!devices) return;
    const before = seen.current;
    seen.current = new Map(devices.map((d) => [d.id, d.status]));
    if (!before) return;
    for (const d of devices) if (before.has(d.id) && before.get(d.id) !== d.status) announce(`${d.name} is now ${d.status}.`);
  }, [devices]);
}

export function Workspace({ api, user, onSignOut }) {
  const { devices, error: devicesError } = useDevices(api);
  const { hub, state: streamState } = useUserEvents(api);
  const [deviceId, setDeviceId] = useState(null);
  const [commandId, setCommandId] = useState(null);
  const [batchId, setBatchId] = useState(null);
  const [announcement, setAnnouncement] = useState('');
  const commands = useCommands(api, deviceId, hub);
  const { finals, now } = useFinals(hub);
  usePresenceAnnouncements(devices, setAnnouncement);

  // Keep a device selected: the first one, until the user picks another or it goes away.
  useEffect(() => {
    if (devices && devices.length && !devices.some((d) => d.id === deviceId)) selectDevice(devices[0].id);
  }, [devices]);

  function selectDevice(id) {
    setDeviceId(id);
    setCommandId(null);
  }

  const device = devices?.find((d) => d.id === deviceId) ?? null;
  return html`
    <header class="top">
      <div class="brand"><img src="/console/favicon.svg" alt="" width="24" height="24" /> Appia console</div>
      <div class="who">
        ${user ? html`<span>Signed in as <strong>${user}</strong></span>` : null}
        <button type="button" class="quiet" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <div class="layout">
      <aside>
        <${DeviceList} devices=${devices} error=${devicesError} selectedId=${deviceId} onSelect=${selectDevice} />
        <${PairForm} api=${api} />
        <section class="card" aria-labelledby="chart-title">
          <h2 id="chart-title">Finished per second <span class=${`stream ${streamState === 'open' ? 'live' : ''}`}>${streamState === 'open' ? 'live' : streamState}</span></h2>
          <${RateChart} finals=${finals} now=${now} />
        </section>
      </aside>
      <main>
        <${SendForm}
          api=${api}
          device=${device}
          onSent=${(command) => {
            commands.add(command);
            setCommandId(command.id);
          }}
          onSentBatch=${(batch) => setBatchId(batch.id)}
        />
        ${batchId
          ? html`<${BatchGrid} key=${batchId} api=${api} batchId=${batchId} devices=${devices} hub=${hub} onClose=${() => setBatchId(null)} />`
          : null}
        <div class="split">
          <${CommandList} commands=${commands.commands} error=${commands.error} selectedId=${commandId} onSelect=${setCommandId} />
          ${commandId && device
            ? html`<${CommandDetail} key=${commandId} api=${api} deviceId=${device.id} commandId=${commandId} announce=${setAnnouncement} />`
            : html`<section class="card detail empty"><p class="muted">Choose a command to follow its timeline.</p></section>`}
        </div>
      </main>
    </div>
    <div class="sr-only" role="status" aria-live="polite" aria-atomic="true">${announcement}</div>
  `;
}
