// Commands finished per second over the last minute, stacked by final
// status, drawn as plain SVG bars (no chart library).

import { html } from './html.js';
import { FINAL_STATUSES } from './status.js';

export const WINDOW_SECONDS = 60;
const W = 300;
const H = 80;
const SLOT = W / WINDOW_SECONDS;

/**
 * Counts per one-second slot, oldest first; slot WINDOW_SECONDS - 1 is the current second.
 *
 * @param {{status: string, at: number}[]} finals
 * @param {number} now epoch milliseconds
 */
export function perSecond(finals, now) {
  const slots = Array.from({ length: WINDOW_SECONDS }, () => ({}));
  const end = Math.floor(now / 1000);
  for (const f of finals) {
    const age = end - Math.floor(f.at / 1000);
    if (age < 0 || age >= WINDOW_SECONDS) continue;
    const slot = slots[WINDOW_SECONDS - 1 - age];
    slot[f.status] = (slot[f.status] ?? 0) + 1;
  }
  return slots;
}

export function RateChart({ finals, now }) {
  const slots = perSecond(finals, now);
  const totals = slots.map((s) => Object.values(s).reduce((a, b) => a + b, 0));
  const peak = Math.max(1, ...totals);
  const byStatus = {};
  for (const slot of slots) for (const [status, n] of Object.entries(slot)) byStatus[status] = (byStatus[status] ?? 0) + n;
  const seen = FINAL_STATUSES.filter((s) => byStatus[s]);
  const count = totals.reduce((a, b) => a + b, 0);
  const label =
    count === 0
      ? 'No command finished in the last minute.'
      : `${count} commands finished in the last minute, at most ${peak} in one second: ${seen.map((s) => `${byStatus[s]} ${s}`).join(', ')}.`;

  const bars = [];
  slots.forEach((slot, i) => {
    let y = H;
    for (const status of FINAL_STATUSES) {
      const n = slot[status];
      if (!n) continue;
      const height = (n / peak) * (H - 4);
      y -= height;
      bars.push(html`<rect class=${`s-${status}`} x=${i * SLOT + 0.5} y=${y} width=${SLOT - 1} height=${height}><title>${n} ${status}</title></rect>`);
    }
  });

  return html`
    <figure class="chart">
      <div class="chart-scale muted" aria-hidden="true"><span>${peak}/s</span><span>0</span></div>
      <svg viewBox=${`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label=${label}>
        <line class="baseline" x1="0" y1=${H - 0.5} x2=${W} y2=${H - 0.5} />
        ${bars}
      </svg>
      <figcaption class="muted"><span>−60 s</span><span>now</span></figcaption>
      <ul class="legend" aria-hidden="true">
        ${seen.length === 0
          ? html`<li class="muted">Waiting for commands to finish…</li>`
          : seen.map((s) => html`<li><span class=${`dot s-${s}`}></span>${s} <strong>${byStatus[s]}</strong></li>`)}
      </ul>
    </figure>
  `;
}
