import type { TestAppia } from '../support/appia.js';

/** A device's side of pairing over plain HTTP (no token): what `appia agent --pair` sends. */
export async function askToPair(appia: TestAppia, body: Record<string, unknown> = { name: 'Kiosk', kind: 'Desktop', platform: 'Linux' }) {
  const res = await fetch(`${appia.url}/devices/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

export async function pollToken(appia: TestAppia, pairingId: string) {
  const res = await fetch(`${appia.url}/devices/pair/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pairingId }) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

export function approve(appia: TestAppia, userToken: string, userCode: string) {
  return appia.api(userToken, 'POST', '/beta/me/devicePairings', { userCode });
}

/** A clock the test moves: the core reads it (expiry, poll intervals), nothing sleeps. */
export function testClock() {
  let t = Date.now();
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}
