// Pairing a device (DESIGN 10): the device (`appia agent --pair`) shows a
// code; its owner approves it here, and the device collects its token
// itself. A code may arrive in the address as `#pair=XXXX-XXXX` (the link
// the device shows): it fills the field and leaves the address bar.

import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

/** Takes a code from `#pair=...`, if there is one, and removes it from the address. */
function takeCodeFromAddress() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const code = fragment.get('pair');
  if (code === null) return '';
  fragment.delete('pair');
  const rest = fragment.toString();
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
  return code.trim();
}

export function PairForm({ api }) {
  const [code, setCode] = useState(takeCodeFromAddress);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null);
  // the link opened in a tab that already shows the console changes only the fragment
  useEffect(() => {
    const onHashChange = () => {
      const taken = takeCodeFromAddress();
      if (taken) (setCode(taken), setOutcome(null));
    };
    addEventListener('hashchange', onHashChange);
    return () => removeEventListener('hashchange', onHashChange);
  }, []);

  async function decide(approve) {
    if (!code.trim()) {
      setOutcome({ error: { code: '', message: 'Type the code the device shows.' } });
      return;
    }
    setBusy(true);
    try {
      if (approve) {
        const device = await api.approvePairing(code.trim());
        setOutcome({ done: `Paired ${device.name}. It collects its token and connects within seconds.` });
      } else {
        await api.denyPairing(code.trim());
        setOutcome({ done: 'Pairing refused: the device stops waiting.' });
      }
      setCode('');
    } catch (error) {
      setOutcome({ error });
    } finally {
      setBusy(false);
    }
  }

  return html`
    <section class="card pair" aria-labelledby="pair-title">
      <h2 id="pair-title">Pair a device</h2>
      <form
        onSubmit=${(e) => {
          e.preventDefault();
          decide(true);
        }}
        noValidate
      >
        <div class="field">
          <label for="pair-code">Code the device shows</label>
          <input
            id="pair-code"
            type="text"
            autocomplete="off"
            autocapitalize="characters"
            spellcheck="false"
            maxlength="64"
            placeholder="BCDF-GHJK"
            aria-describedby="pair-hint"
            value=${code}
            onInput=${(e) => setCode(e.currentTarget.value)}
          />
          <p class="muted hint" id="pair-hint">Run <code>appia agent --pair</code> on the device to get one.</p>
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled=${busy}>Approve</button>
          <button type="button" class="quiet" disabled=${busy} onClick=${() => decide(false)}>Deny</button>
        </div>
        ${outcome?.done ? html`<p class="pair-done" role="status">${outcome.done}</p>` : null}
        ${outcome?.error
          ? html`<p class="error-text" role="alert"><strong>${outcome.error.code || 'Error'}:</strong> ${outcome.error.message}</p>`
          : null}
      </form>
    </section>
  `;
}
