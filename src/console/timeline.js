// A command's life as one horizontal bar: a segment per status it passed
// through, as wide as the time it spent there, then its final status.

import { html } from './html.js';
import { formatDuration, formatTime, isFinal, meaning } from './status.js';

/**
 * The time spent in each status. A final status has no duration; while the
 * command is not final its current status grows until `now`.
 *
 * @param {{status: string, dateTime: string}[]} history oldest first
 * @param {number} now epoch milliseconds
 */
export function segmentsOf(history, now) {
  return history.map((entry, i) => {
    const start = Date.parse(entry.dateTime);
    const next = history[i + 1];
    const end = next ? Date.parse(next.dateTime) : isFinal(entry.status) ? start : Math.max(start, now);
    return { status: entry.status, start, ms: Math.max(0, end - start), final: isFinal(entry.status), detail: entry.detail };
  });
}

export function Timeline({ history, now }) {
  if (history.length === 0) return html`<p class="muted">Waiting for the first status…</p>`;
  const segments = segmentsOf(history, now);
  const spans = segments.filter((s) => !s.final);
  const finalSegment = segments.find((s) => s.final);
  const total = spans.reduce((sum, s) => sum + s.ms, 0);
  const summary = spans.map((s) => `${s.status} ${formatDuration(s.ms)}`).join(', ');

  return html`
    <div class="timeline">
      <div class="bar-row">
        <div class="bar" role="img" aria-label=${`Time in each status: ${summary}${finalSegment ? `; ended ${finalSegment.status}` : ''}`}>
          ${spans.map(
            (s) => html`<div class=${`segment s-${s.status}`} style=${{ flex: `${total > 0 ? s.ms : 1} 1 0px` }} title=${`${s.status}: ${formatDuration(s.ms)}`}>
              <span>${s.status}</span>
            </div>`,
          )}
        </div>
        ${finalSegment
          ? html`<span class=${`badge s-${finalSegment.status}`}>${finalSegment.status}</span>`
          : html`<span class="badge pending">in progress</span>`}
      </div>
      <div class="axis muted"><span>0</span><span>${formatDuration(total)}</span></div>
      <ol class="changes" aria-label="Status changes">
        ${segments.map(
          (s) => html`<li>
            <time datetime=${new Date(s.start).toISOString()}>${formatTime(s.start)}</time>
            <span class=${`dot s-${s.status}`} aria-hidden="true"></span>
            <span class="status-name">${s.status}</span>
            <span class="muted">${s.final ? '' : `${formatDuration(s.ms)} · `}${s.detail ? html`<span class="change-detail">${s.detail}</span>` : meaning(s.status)}</span>
          </li>`,
        )}
      </ol>
    </div>
  `;
}
