import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  AllowedHostsValidator,
  BaseBearerTokenAuthenticationProvider,
  HttpMethod,
  RequestInformation,
  validateProtocol,
  type AccessTokenProvider,
  type Parsable,
  type ParsableFactory,
} from '@microsoft/kiota-abstractions';
import { KiotaClientFactory } from '@microsoft/kiota-http-fetchlibrary';
import { GraphBetaRequestAdapter } from '@microsoft/msgraph-beta-sdk';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTlsAppia, type TlsAppia } from './tls.js';

/**
 * The Kiota-generated Graph beta models (@microsoft/msgraph-beta-sdk) as a
 * second peer. The request builders for /me/devices live in a per-path
 * package that is not published, so the test drives the SDK's own request
 * adapter with request informations and the generated parsable factories:
 * what a Kiota client does under its fluent API. The `Command` model reads
 * `responsepayload` in lower case (DESIGN 2) and `error` as `errorEscaped`.
 */

/** what the test reads of a generated model (their declarations: models/index.d.ts) */
interface Model extends Parsable {
  additionalData?: Record<string, unknown>;
}
interface Command extends Model {
  id?: string | null;
  status?: string | null;
  type?: string | null;
  appServiceName?: string | null;
  packageFamilyName?: string | null;
  errorEscaped?: string | null;
  payload?: Model | null;
  responsepayload?: Model | null;
}
interface CommandCollectionResponse extends Model {
  value?: Command[] | null;
  odataNextLink?: string | null;
}
interface ODataError extends Error {
  responseStatusCode?: number;
  responseHeaders?: Record<string, string[]>;
  errorEscaped?: { code?: string | null; innerError?: { requestId?: string | null } | null } | null;
}

// The generated models' declarations are 12 MB: compiling against them would double the build's time
// and memory, so the modules are imported untyped (the specifiers are not literals) and read through
// the interfaces above. The code that runs is the generated code.
const MODELS: string = '@microsoft/msgraph-beta-sdk/models/index.js';
const ERRORS: string = '@microsoft/msgraph-beta-sdk/models/oDataErrors/index.js';
const { createCommandFromDiscriminatorValue, createCommandCollectionResponseFromDiscriminatorValue } = (await import(MODELS)) as {
  createCommandFromDiscriminatorValue: ParsableFactory<Command>;
  createCommandCollectionResponseFromDiscriminatorValue: ParsableFactory<CommandCollectionResponse>;
};
const { createODataErrorFromDiscriminatorValue } = (await import(ERRORS)) as { createODataErrorFromDiscriminatorValue: ParsableFactory<Parsable> };


/** Kiota's token provider contract: a token only for the allowed hosts, only over https. */
function tokenProvider(host: string, token: string): AccessTokenProvider {
  const hosts = new AllowedHostsValidator(new Set([host]));
  return {
    getAllowedHostsValidator: () => hosts,
    async getAuthorizationToken(url = '') {
      if (!hosts.isUrlHostValid(url)) return '';
      validateProtocol(url);
      return token;
    },
  };
}

describe('the Kiota-generated Graph beta models against Appia over https', () => {
  let server: TlsAppia;
  let adapter: GraphBetaRequestAdapter;
  let userToken: string;
  let deviceId: string;
  let sdk: DeviceConnection | undefined;

  /** GET `path` (under /beta) with the query options of `query`, parsed by `factory` */
  function get<T extends Parsable>(path: string, factory: ParsableFactory<T>, query: Record<string, string> = {}): Promise<T | undefined> {
    const names = Object.keys(query).map((k) => k.replace('$', '%24'));
    const info = new RequestInformation(HttpMethod.GET, `{+baseurl}${path}${names.length ? `{?${names.join(',')}}` : ''}`);
    for (const [name, value] of Object.entries(query)) info.queryParameters[name.replace('$', '%24')] = value;
    info.headers.tryAdd('Accept', 'application/json');
    return adapter.send(info, factory, { XXX: createODataErrorFromDiscriminatorValue });
  }

  before(async () => {
    server = await startTlsAppia();
    userToken = await server.appia.token('alice');
    const host = new URL(server.appia.url).hostname;
    const http = KiotaClientFactory.create((url, init) => fetch(url, { ...init, dispatcher: server.dispatcher } as RequestInit));
    adapter = new GraphBetaRequestAdapter(new BaseBearerTokenAuthenticationProvider(tokenProvider(host, userToken)), undefined, undefined, http);
    adapter.baseUrl = `${server.appia.url}/beta`;
    const registered = await server.fetch('/beta/me/devices', {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'kiota peer' }),
    });
    const body = (await registered.json()) as { id: string; deviceToken: string };
    deviceId = body.id;
    sdk = await connect({
      url: server.appia.url,
      token: body.deviceToken,
      ca: server.ca,
      keepAliveMs: 0,
      appServices: {
        ping: async (command) => ({ pong: true, echo: command.payload }),
        fail: async () => {
          throw new Error('the printer is out of paper');
        },
      },
    });
  });
  after(async () => {
    await sdk?.close();
    await server.stop();
  });

  /** an AppService command run to its final status, made and awaited over plain https (the models are what is under test) */
  async function finishedCommand(appServiceName = 'ping'): Promise<string> {
    const res = await server.fetch(`/beta/me/devices/${deviceId}/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json', prefer: 'wait=20' },
      body: JSON.stringify({ type: 'AppService', appServiceName, packageFamilyName: 'Appia.Agent', payload: { n: 7 } }),
    });
    const command = (await res.json()) as { id: string; status: string };
    assert.equal(command.status, appServiceName === 'fail' ? 'executionFailed' : 'completed');
    return command.id;
  }

  test('a command parses into the generated Command model', async () => {
    const id = await finishedCommand();
    const command = await get<Command>(`/me/devices/${deviceId}/commands/${id}`, createCommandFromDiscriminatorValue);
    assert.ok(command);
    assert.equal(command.id, id);
    assert.equal(command.status, 'completed');
    assert.equal(command.type, 'AppService');
    assert.equal(command.appServiceName, 'ping');
    assert.equal(command.packageFamilyName, 'Appia.Agent');
    assert.equal(command.errorEscaped ?? null, null);
    assert.deepEqual(command.payload?.additionalData, { n: 7 });
    // the camelCase answer Appia always serves is not a property of the model: it lands in additionalData
    assert.deepEqual(command.additionalData?.['responsePayload'], { pong: true, echo: { n: 7 } });
  });

  test("a failed command's error parses into Command.errorEscaped", async () => {
    const id = await finishedCommand('fail');
    const command = await get<Command>(`/me/devices/${deviceId}/commands/${id}`, createCommandFromDiscriminatorValue);
    assert.equal(command?.status, 'executionFailed');
    assert.match(String(command?.errorEscaped), /out of paper/);
  });

  test('a list parses into CommandCollectionResponse, with its nextLink', async () => {
    await finishedCommand();
    await finishedCommand();
    const page = await get<CommandCollectionResponse>(`/me/devices/${deviceId}/commands`, createCommandCollectionResponseFromDiscriminatorValue, { $top: '1' });
    assert.ok(page?.value);
    assert.equal(page.value.length, 1);
    assert.equal(page.value[0]!.status, 'completed');
    assert.match(String(page.odataNextLink), /\$skiptoken=/);
  });

  test('a Graph error parses into the generated ODataError, with its code and request-id', async () => {
    const missing = randomUUID();
    const err = (await get<Command>(`/me/devices/${missing}/commands/${'0'.repeat(44)}`, createCommandFromDiscriminatorValue).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    )) as ODataError;
    assert.equal(err.responseStatusCode, 404);
    assert.equal(err.errorEscaped?.code, 'itemNotFound');
    assert.match(String(err.errorEscaped?.innerError?.requestId), /^[0-9a-f-]{36}$/);
    assert.deepEqual(err.responseHeaders?.['request-id'], [err.errorEscaped?.innerError?.requestId]);
  });

  test('with $expand=responsepayload, the device\'s answer parses into Command.responsepayload', async () => {
    const id = await finishedCommand();
    const command = await get<Command>(`/me/devices/${deviceId}/commands/${id}`, createCommandFromDiscriminatorValue, { $expand: 'responsepayload' });
    assert.deepEqual(command?.responsepayload?.additionalData, { pong: true, echo: { n: 7 } });
    const page = await get<CommandCollectionResponse>(`/me/devices/${deviceId}/commands`, createCommandCollectionResponseFromDiscriminatorValue, {
      $expand: 'responsepayload',
      $top: '1',
    });
    assert.deepEqual(page?.value?.[0]?.responsepayload?.additionalData, { pong: true, echo: { n: 7 } });
  });

  test('/users/{own id}/devices/... answers as /me does; another user\'s id is 404', async () => {
    const id = await finishedCommand();
    const viaMe = await get<Command>(`/me/devices/${deviceId}/commands/${id}`, createCommandFromDiscriminatorValue);
    const viaUsers = await get<Command>(`/users/alice/devices/${deviceId}/commands/${id}`, createCommandFromDiscriminatorValue);
    assert.ok(viaUsers);
    assert.equal(viaUsers.id, viaMe?.id);
    assert.equal(viaUsers.status, viaMe?.status);
    const list = await get<CommandCollectionResponse>(`/users/alice/devices/${deviceId}/commands`, createCommandCollectionResponseFromDiscriminatorValue);
    assert.ok(list?.value?.some((c) => c.id === id));
    const other = (await get<Command>(`/users/mallory/devices/${deviceId}/commands/${id}`, createCommandFromDiscriminatorValue).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    )) as ODataError;
    assert.equal(err404(other), 'itemNotFound');
  });
});

function err404(err: ODataError): string | null | undefined {
  assert.equal(err.responseStatusCode, 404);
  return err.errorEscaped?.code;
}
