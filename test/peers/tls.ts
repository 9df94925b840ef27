import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Dispatcher } from 'undici-types';
import { startTestAppia, type TestAppia, type TestSettings } from '../support/appia.js';
import type { StartOverrides } from '../../src/server.js';

const run = promisify(execFile);

/** A test CA and a server certificate it signed for 127.0.0.1 and localhost, made by openssl in a temp folder. */
export interface TestCertificates {
  readonly dir: string;
  /** PEM of the CA: what a client must trust */
  readonly ca: string;
  readonly certFile: string;
  readonly keyFile: string;
  remove(): Promise<void>;
}

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'appia-tls-'));
  const at = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=Appia test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(at('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial',
    '-out', at('server.pem'), '-days', '2', '-extfile', at('server.ext')]);
  return {
    dir,
    ca: await readFile(at('ca.pem'), 'utf8'),
    certFile: at('server.pem'),
    keyFile: at('server.key'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * An undici Agent for Node's own fetch that trusts `ca` besides the usual
 * roots (verification stays on). Node 20 does not export undici's classes,
 * but fetch's global dispatcher is an undici Agent, shared under this
 * symbol by undici's contract; its class makes one with our CA.
 */
export async function trustingDispatcher(ca: string): Promise<Dispatcher> {
  const key = Symbol.for('undici.globalDispatcher.1');
  const global = globalThis as unknown as Record<symbol, Dispatcher | undefined>;
  // a data: URL touches no network; the first fetch installs the global Agent
  if (!global[key]) await (await fetch('data:,')).text();
  const Agent = global[key]!.constructor as new (options: { connect: { ca: string } }) => Dispatcher;
  return new Agent({ connect: { ca } });
}

/** An Appia serving https and wss on one port (DESIGN 2), with the CA its clients trust. */
export interface TlsAppia {
  readonly appia: TestAppia;
  readonly ca: string;
  /** for fetch and the Graph client's fetchOptions */
  readonly dispatcher: Dispatcher;
  /** fetch that trusts the test CA */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTlsAppia(settings: TestSettings = {}, overrides: StartOverrides = {}): Promise<TlsAppia> {
  const certs = await makeCertificates();
  let appia: TestAppia;
  try {
    appia = await startTestAppia({ ...settings, tlsCert: certs.certFile, tlsKey: certs.keyFile }, overrides);
  } catch (err) {
    await certs.remove();
    throw err;
  }
  const dispatcher = await trustingDispatcher(certs.ca);
  return {
    appia,
    ca: certs.ca,
    dispatcher,
    fetch: (path, init = {}) => fetch(appia.url + path, { ...init, dispatcher } as RequestInit),
    async stop() {
      await appia.stop();
      await dispatcher.close();
      await certs.remove();
    },
  };
}
