// The form that sends a LaunchUri or AppService command (DESIGN 2) to the
// selected device. It checks what it can before sending; anything else the
// server refuses is shown in the server's own words.

import { useState } from 'preact/hooks';
import { html } from './html.js';

/** The request body for the form's values, or the field errors that stop it being sent. */
export function commandFromForm(values) {
  const errors = {};
  if (values.type === 'LaunchUri') {
    const uri = values.uri.trim();
    if (!uri) errors.uri = 'Enter the URI for the device to open.';
    else if (!isAbsoluteUri(uri)) errors.uri = 'The URI must be absolute, with a scheme (https://example.com, ms-settings:display).';
    return Object.keys(errors).length ? { errors } : { body: { type: 'LaunchUri', payload: { uri } } };
  }
  const appServiceName = values.appServiceName.trim();
  const packageFamilyName = values.packageFamilyName.trim();
  if (!appServiceName) errors.appServiceName = 'Enter the app service name.';
  if (!packageFamilyName) errors.packageFamilyName = 'Enter the package family name.';
  let payload = {};
  if (values.payload.trim()) {
    try {
      payload = JSON.parse(values.payload);
    } catch (err) {
      errors.payload = `The payload is not valid JSON: ${err.message}`;
    }
    if (!errors.payload && (payload === null || typeof payload !== 'object' || Array.isArray(payload))) {
      errors.payload = 'The payload must be a JSON object, like {"key": "value"}.';
    }
  }
  return Object.keys(errors).length ? { errors } : { body: { type: 'AppService', appServiceName, packageFamilyName, payload } };
}

function isAbsoluteUri(text) {
  return /^[a-z][a-z0-9+.-]*:\S/i.test(text) && URL.canParse(text);
}

const EMPTY = { type: 'AppService', uri: '', appServiceName: '', packageFamilyName: '', payload: '{}' };

export function SendForm({ api, device, onSent, onSentBatch }) {
  const [values, setValues] = useState(EMPTY);
  const [errors, setErrors] = useState({});
  const [serverError, setServerError] = useState(null);
  const [sending, setSending] = useState(false);
  const set = (name) => (event) => {
    const value = event.currentTarget.value;
    setValues((v) => ({ ...v, [name]: value }));
  };

  async function submit(event, toAll = false) {
    event.preventDefault();
    setServerError(null);
    const { body, errors: found } = commandFromForm(values);
    setErrors(found ?? {});
    if (!body) {
      document.getElementById(`send-${Object.keys(found)[0]}`)?.focus();
      return;
    }
    setSending(true);
    try {
      // DESIGN 9: the same command to every device, as one batch
      if (toAll) onSentBatch(await api.sendBatch({ all: true, ...body }));
      else onSent(await api.send(device.id, body));
    } catch (error) {
      setServerError(error);
    } finally {
      setSending(false);
    }
  }

  const field = (name, label, input) => html`
    <div class="field">
      <label for=${`send-${name}`}>${label}</label>
      ${input({
        id: `send-${name}`,
        value: values[name],
        onInput: set(name),
        'aria-invalid': errors[name] ? 'true' : 'false',
        'aria-describedby': errors[name] ? `send-${name}-error` : undefined,
      })}
      ${errors[name] ? html`<p class="field-error" id=${`send-${name}-error`}>${errors[name]}</p>` : null}
    </div>
  `;
  const text = (props) => html`<input type="text" autocomplete="off" spellcheck="false" ...${props} />`;

  return html`
    <section class="card send" aria-labelledby="send-title">
      <h2 id="send-title">Send a command${device ? html` <span class="muted">to ${device.name}</span>` : null}</h2>
      <form onSubmit=${submit} noValidate>
        <fieldset class="type-choice">
          <legend>Command type</legend>
          ${['AppService', 'LaunchUri'].map(
            (type) => html`<label class="radio">
              <input type="radio" name="type" value=${type} checked=${values.type === type} onChange=${set('type')} />
              ${type === 'AppService' ? 'App service' : 'Launch URI'}
            </label>`,
          )}
        </fieldset>
        ${values.type === 'LaunchUri'
          ? field('uri', 'URI', (p) => html`<input type="url" autocomplete="off" placeholder="https://example.com" ...${p} />`)
          : html`<div class="field-row">
                ${field('appServiceName', 'App service name', (p) => text({ ...p, placeholder: 'ping' }))}
                ${field('packageFamilyName', 'Package family name', (p) => text({ ...p, placeholder: 'com.example.app' }))}
              </div>
              ${field('payload', 'Payload (JSON object)', (p) => html`<textarea rows="2" spellcheck="false" ...${p}></textarea>`)}`}
        <div class="actions">
          <button type="submit" class="primary" disabled=${!device || sending}>${sending ? 'Sending…' : 'Send command'}</button>
          <button type="button" disabled=${!device || sending} onClick=${(event) => submit(event, true)}>Send to all devices</button>
          ${!device ? html`<span class="muted">Select a device first.</span>` : null}
        </div>
        ${serverError
          ? html`<p class="error-text" role="alert"><strong>${serverError.code || 'Error'}:</strong> ${serverError.message}</p>`
          : null}
      </form>
    </section>
  `;
}
