// Sign in by pasting a user token (`appia token --user NAME`).

import { useState } from 'preact/hooks';
import { html } from './html.js';

export function SignIn({ onToken, message }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);

  function submit(event) {
    event.preventDefault();
    const value = token.trim();
    if (!value) {
      setError('Paste a token first.');
      return;
    }
    if (/\s/.test(value)) {
      setError('A token has no spaces or line breaks: paste only the token.');
      return;
    }
    onToken(value);
  }

  return html`
    <main class="signin">
      <section class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Appia</h1>
        <p class="muted">
          Paste a user token, or open this page as <code>/#token=…</code>. With the embedded issuer, make one with
          <code>npx appia token --user alice</code>. The token stays in this tab only.
        </p>
        ${message ? html`<p class="error-text" role="alert">${message}</p>` : null}
        <form onSubmit=${submit} noValidate>
          <div class="field">
            <label for="signin-token">Access token</label>
            <input
              id="signin-token"
              type="password"
              autocomplete="off"
              spellcheck="false"
              value=${token}
              onInput=${(e) => setToken(e.currentTarget.value)}
              aria-invalid=${error ? 'true' : 'false'}
              aria-describedby=${error ? 'signin-error' : undefined}
            />
            ${error ? html`<p class="field-error" id="signin-error">${error}</p>` : null}
          </div>
          <div class="actions"><button type="submit" class="primary">Sign in</button></div>
        </form>
      </section>
    </main>
  `;
}
