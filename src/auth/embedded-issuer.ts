import { randomUUID } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { PublicKeySet } from './verifier.js';

/** The embedded issuer signs with ECDSA P-256: small keys and tokens, supported everywhere. */
export const EMBEDDED_ALGORITHM = 'ES256';
/** The scopes a minted user token carries unless told otherwise (DESIGN 2). */
export const DEFAULT_SCOPES = Object.freeze(['Device.Read', 'Device.Command']);
/** 24 h: a token minted with `appia token` lasts a working day without refresh. */
export const DEFAULT_TOKEN_TTL_SECONDS = 24 * 3600;
export const MAX_TOKEN_TTL_SECONDS = 366 * 24 * 3600;

export interface MintOptions {
  /** becomes `sub`: the user id Appia files devices under */
  readonly user: string;
  /** default `DEFAULT_SCOPES` */
  readonly scopes?: readonly string[];
  /** default `DEFAULT_TOKEN_TTL_SECONDS`, at most `MAX_TOKEN_TTL_SECONDS` */
  readonly ttlSeconds?: number;
  /** an app-only token: the scopes go in `roles` and there is no `scp` (tests of the 403) */
  readonly appOnly?: boolean;
}

export interface EmbeddedIssuer {
  /** the `iss` of every token: `urn:appia:<instance id>`, fixed at first start */
  readonly issuer: string;
  /** the `aud` of every token: `appia` */
  readonly audience: string;
  /** signs a token; the token is returned, never logged */
  mint(options: MintOptions): Promise<string>;
  /** the public signing key as a JWKS (no private members); one frozen object */
  jwks(): PublicKeySet;
  /** `/.well-known/openid-configuration`, with the JWKS served under `baseUrl` */
  discovery(baseUrl: string): Record<string, unknown>;
}

/** `openEmbeddedIssuer({ create: false })` found no issuer (or only half of one) in `dir`. */
export class NoIssuerError extends Error {
  constructor(readonly dir: string) {
    super(`there is no embedded issuer in ${dir}`);
    this.name = 'NoIssuerError';
  }
}

interface IssuerIdentity {
  readonly issuer: string;
  readonly audience: string;
}

/**
 * Opens the embedded token issuer (DESIGN 5) kept in `<dataDir>/issuer/`:
 * `signing-key.jwk` (the private key, mode 0600) and `issuer.json` (its
 * `iss` and `aud`). The first open creates both; later opens, and the
 * offline `appia token --data DIR`, reuse them, so tokens survive restarts.
 * Two processes opening a fresh folder at once end up with the same files.
 * With `create: false` nothing is created: a folder without both files is a
 * `NoIssuerError` (a new key would sign tokens no running server accepts).
 *
 * @example
 * const issuer = await openEmbeddedIssuer({ dataDir: './appia-data' });
 * const token = await issuer.mint({ user: 'alice' });
 */
export async function openEmbeddedIssuer(options: { dataDir: string; now?: () => number; create?: boolean }): Promise<EmbeddedIssuer> {
  const now = options.now ?? Date.now;
  const dir = join(options.dataDir, 'issuer');
  if (options.create === false) {
    for (const file of ['issuer.json', 'signing-key.jwk']) {
      await stat(join(dir, file)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' || err.code === 'ENOTDIR' ? new NoIssuerError(dir) : err;
      });
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // DESIGN 8: its owner's only, also when an older version made it readable (the key itself is checked, not fixed, below)
  if (process.platform !== 'win32') await chmod(dir, 0o700);
  const identity = await loadIdentity(join(dir, 'issuer.json'));
  const privateJwk = await loadSigningKey(join(dir, 'signing-key.jwk'));

  const signingKey = await importJWK(privateJwk, EMBEDDED_ALGORITHM);
  const { d: _private, ...rest } = privateJwk;
  const publicJwk: JWK = Object.freeze({ ...rest, use: 'sig', alg: EMBEDDED_ALGORITHM });
  const keySet = Object.freeze({ keys: Object.freeze([publicJwk]) });
  const kid = privateJwk.kid!;

  return Object.freeze({
    issuer: identity.issuer,
    audience: identity.audience,

    async mint(mint: MintOptions): Promise<string> {
      const user = checkUser(mint.user);
      const scopes = (mint.scopes ?? DEFAULT_SCOPES).map(checkScope);
      const ttl = mint.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
        throw new RangeError(`a token lifetime must be 1..${MAX_TOKEN_TTL_SECONDS} whole seconds, got ${ttl}`);
      }
      const issuedAt = Math.floor(now() / 1000);
      // Entra ID marks app-only tokens `idtyp: app` and puts their permissions in `roles`.
      const grants = mint.appOnly ? { roles: scopes, idtyp: 'app' } : { scp: scopes.join(' ') };
      return new SignJWT(grants)
        .setProtectedHeader({ alg: EMBEDDED_ALGORITHM, kid, typ: 'JWT' })
        .setIssuer(identity.issuer)
        .setAudience(identity.audience)
        .setSubject(user)
        .setJti(randomUUID())
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(issuedAt + ttl)
        .sign(signingKey);
    },

    jwks: () => keySet,

    discovery(baseUrl: string): Record<string, unknown> {
      const base = baseUrl.replace(/\/+$/, '');
      return {
        issuer: identity.issuer,
        jwks_uri: `${base}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: [EMBEDDED_ALGORITHM],
        token_endpoint_auth_signing_alg_values_supported: [EMBEDDED_ALGORITHM],
        subject_types_supported: ['public'],
        scopes_supported: [...DEFAULT_SCOPES],
        claims_supported: ['iss', 'aud', 'sub', 'scp', 'iat', 'nbf', 'exp', 'jti'],
      };
    },
  });
}

async function loadIdentity(file: string): Promise<IssuerIdentity> {
  const fresh: IssuerIdentity = { issuer: `urn:appia:${randomUUID()}`, audience: 'appia' };
  const text = await readOrCreate(file, `${JSON.stringify(fresh, null, 2)}\n`, 0o600);
  if (process.platform !== 'win32') await chmod(file, 0o600);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; restore it, or delete it to start a new issuer (existing tokens stop working)`);
  }
  const { issuer, audience } = (parsed ?? {}) as Partial<Record<string, unknown>>;
  if (typeof issuer !== 'string' || issuer === '' || typeof audience !== 'string' || audience === '') {
    throw new Error(`${file} must hold a non-empty "issuer" and "audience"`);
  }
  return { issuer, audience };
}

async function loadSigningKey(file: string): Promise<JWK> {
  const text = await readOrCreate(file, async () => `${JSON.stringify(await newSigningKey())}\n`, 0o600);
  if (process.platform !== 'win32') {
    const mode = (await stat(file)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new Error(
        `${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 on it, ` +
          'or delete it to make a new key (existing tokens stop working)',
      );
    }
  }
  const corrupt = () =>
    new Error(`${file} is not an ES256 private key; restore it, or delete it to make a new key (existing tokens stop working)`);
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw corrupt();
  }
  if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') throw corrupt();
  return jwk;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(EMBEDDED_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  // RFC 7638 thumbprint: a kid that is unique to the key and says nothing else.
  const kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! });
  return { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y!, d: jwk.d!, kid, alg: EMBEDDED_ALGORITHM };
}

/**
 * Reads `file`, creating it first if absent. Creation writes a temporary
 * file and hard-links it into place, which fails if another process got
 * there first; then that process's file is the one read.
 */
async function readOrCreate(file: string, content: string | (() => Promise<string>), mode: number): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(typeof content === 'string' ? content : await content());
      await handle.sync(); // never link a file whose content a crash could still lose
    } finally {
      await handle.close();
    }
    await chmod(temp, mode); // exactly this mode, whatever the umask
    await link(temp, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return readFile(file, 'utf8');
}

function checkUser(user: string): string {
  // Printable, no whitespace at the ends: it becomes an id in URLs, logs and the store.
  if (typeof user !== 'string' || user.length === 0 || user.length > 256 || user.trim() !== user || /\p{Cc}/u.test(user)) {
    throw new TypeError('a user must be 1..256 printable characters without leading or trailing spaces');
  }
  return user;
}

function checkScope(scope: string): string {
  // RFC 6749 3.3 scope-token
  if (typeof scope !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) {
    throw new TypeError(`"${String(scope)}" is not a valid scope name`);
  }
  return scope;
}
