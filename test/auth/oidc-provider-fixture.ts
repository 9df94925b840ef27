import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

/** The API resource Appia is registered as at the provider, and one that is not Appia. */
export const APPIA_RESOURCE = 'urn:appia:api';
export const OTHER_RESOURCE = 'urn:someone-else:api';
const SCOPES = 'Device.Read Device.Command';
const CLIENT_SECRET = 'appia-test-client-secret-of-enough-length';
const REDIRECT = 'http://127.0.0.1/callback'; // read from the Location header, never fetched

/**
 * A real, independent OpenID provider (the `oidc-provider` package) on
 * loopback, issuing JWT access tokens (RFC 9068) for Appia's resource. A
 * user signs in through the authorization code flow with PKCE; the test
 * plays the browser and the login page (the interaction names the user from
 * `login_hint`). `rotate()` publishes a new signing key, which signs from
 * then on, beside the old one.
 */
export interface OidcProvider {
  readonly issuer: string;
  /** the authorization code flow, as a browser and an app would run it; returns the access token */
  userToken(user: string, options?: { resource?: string; scope?: string }): Promise<string>;
  /** the client credentials grant: an app-only token */
  appToken(): Promise<string>;
  /** signs claims with the provider's current key (tokens it would not issue: expired ones) */
  signWithItsKey(claims: JWTPayload): Promise<string>;
  /** a new key signs from now on; the old one stays published */
  rotate(): Promise<string>;
  readonly kid: string;
  close(): Promise<void>;
}

export async function startOidcProvider(): Promise<OidcProvider> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys: JWK[] = [await newKey('k1')];
  let provider = makeProvider(issuer, keys);
  server.on('request', (req, res) => void handle(provider, req, res));

  async function tokenRequest(params: Record<string, string>): Promise<string> {
    const res = await fetch(`${issuer}/token`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!body.access_token) throw new Error(`the provider refused the token request: ${body.error}: ${body.error_description}`);
    return body.access_token;
  }

  return {
    issuer,
    get kid() {
      return keys[0]!.kid!;
    },
    async userToken(user, options = {}) {
      const resource = options.resource ?? APPIA_RESOURCE;
      const verifier = randomBytes(32).toString('base64url');
      const cookies = new Map<string, string>();
      let url = `${issuer}/auth?${new URLSearchParams({
        client_id: 'app',
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: `openid ${options.scope ?? SCOPES}`,
        resource,
        login_hint: user,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      })}`;
      for (let hop = 0; hop < 8 && !url.startsWith(REDIRECT); hop++) {
        const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
        for (const cookie of res.headers.getSetCookie()) {
          const pair = cookie.split(';')[0]!;
          cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
        }
        const location = res.headers.get('location');
        if (!location) throw new Error(`the sign-in stopped at ${url}: ${res.status} ${await res.text()}`);
        url = new URL(location, url).href;
      }
      const code = new URL(url).searchParams.get('code');
      if (!code) throw new Error(`no code in ${url}`);
      return tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: 'app', client_secret: CLIENT_SECRET, resource });
    },
    appToken: () => tokenRequest({ grant_type: 'client_credentials', client_id: 'daemon', client_secret: CLIENT_SECRET, resource: APPIA_RESOURCE, scope: SCOPES }),
    async signWithItsKey(claims) {
      const key = await importJWK(keys[0]!, 'ES256');
      return new SignJWT({ iss: issuer, aud: APPIA_RESOURCE, scope: SCOPES, client_id: 'app', ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keys[0]!.kid! })
        .sign(key);
    },
    async rotate() {
      keys.unshift(await newKey(`k${keys.length + 1}`));
      provider = makeProvider(issuer, keys);
      return keys[0]!.kid!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function newKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
}

/** The provider's login page: signs in the user named by `login_hint` and grants the scopes asked for. */
async function handle(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!req.url?.startsWith('/interaction/')) return provider.callback()(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const params = details.params as Record<string, string>;
    const grant = new provider.Grant({ accountId: params['login_hint']!, clientId: params['client_id']! });
    grant.addOIDCScope('openid');
    grant.addResourceScope(params['resource']!, params['scope']!.split(' ').filter((s) => s !== 'openid').join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId: params['login_hint']! }, consent: { grantId } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
}

function makeProvider(issuer: string, keys: readonly JWK[]): Provider {
  const client = { client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'ES256' };
  const ttl = 600;
  return new Provider(issuer, {
    jwks: { keys: keys.map((k) => ({ ...k })) },
    clients: [
      { ...client, client_id: 'app', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [REDIRECT] },
      { ...client, client_id: 'daemon', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    ],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => APPIA_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: SCOPES,
          audience: resource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    ttl: { AccessToken: ttl, AuthorizationCode: ttl, ClientCredentials: ttl, Grant: ttl, IdToken: ttl, Interaction: ttl, Session: ttl },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
  });
}
