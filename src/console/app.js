// The Appia web console (DESIGN 7): sign in with a user token, then watch
// and command the user's devices through the HTTP API (DESIGN 2).

import { render } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { createApi, tokenUser } from './api.js';
import { html } from './html.js';
import { endSession, saveToken, startSession } from './session.js';
import { SignIn } from './signin.js';
import { Workspace } from './workspace.js';

function App() {
  const [token, setToken] = useState(startSession);
  const [message, setMessage] = useState(null);

  const api = useMemo(
    () =>
      token &&
      createApi(token, (error) => {
        // The server refused the token (expired, revoked, another issuer): back to sign-in, saying why.
        endSession();
        setMessage(`The server refused the token: ${error.message}`);
        setToken(null);
      }),
    [token],
  );

  if (!api) {
    return html`<${SignIn}
      message=${message}
      onToken=${(value) => {
        saveToken(value);
        setMessage(null);
        setToken(value);
      }}
    />`;
  }
  return html`<${Workspace}
    api=${api}
    user=${tokenUser(token)}
    onSignOut=${() => {
      endSession();
      setMessage(null);
      setToken(null);
    }}
  />`;
}

const container = document.getElementById('app');
container.replaceChildren(); // the "Loading…" text: render() keeps what it did not make
render(html`<${App} />`, container);
