import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { askToPair, pollToken, testClock } from '../pairing/support.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * DESIGN 10 in a real browser: the owner approves the code a pairing device
 * shows on the console's devices page, and the device it made is listed.
 * The device's side is its real HTTP calls; the clock is the test's.
 */

const CHROMIUM = '/usr/bin/chromium';
const required = process.env['APPIA_REQUIRE_SERVICES'] === '1';
const missing = existsSync(CHROMIUM) ? undefined : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
if (missing) console.log(`# console pairing tests: ${missing}${required ? '; required under APPIA_REQUIRE_SERVICES=1' : '; skipping'}`);

describe('pairing in the web console', { skip: missing && !required ? missing : false }, () => {
  const clock = testClock();
  let appia: TestAppia;
  let browser: Browser;
  let page: Page;
  let token: string;
  const pageErrors: string[] = [];
  before(async () => {
    if (missing) throw new Error(missing);
    appia = await startTestAppia({ pairingIntervalMs: 1000 }, { now: clock.now });
    token = await appia.token('alice');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await appia?.stop();
  });

  test('when the owner types the code in lower case without its dash and approves it, then the device is listed and collects its token', async () => {
    const { body: pairing } = await askToPair(appia, { name: 'Hall kiosk', kind: 'Desktop', platform: 'Linux' });
    await page.goto(`${appia.url}/#token=${token}`);
    await page.getByText('No devices yet').waitFor();
    await page.getByLabel('Code the device shows').fill(String(pairing['userCode']).toLowerCase().replace('-', ''));
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').filter({ hasText: 'Paired Hall kiosk' }).waitFor();
    await page.locator('.device', { hasText: 'Hall kiosk' }).getByText('Offline', { exact: true }).waitFor();
    assert.equal(await page.getByLabel('Code the device shows').inputValue(), '', 'the field is cleared');

    clock.advance(1000);
    const issued = await pollToken(appia, pairing['pairingId']);
    assert.equal(issued.status, 200);
    const listed = (await appia.api(token, 'GET', '/beta/me/devices')).body.value;
    assert.deepEqual(listed.map((d: { id: string }) => d.id), [issued.body['deviceId']]);
  });

  test('when the owner follows the link the device shows, then the code is filled in and leaves the address bar; a wrong code shows the server\'s answer', async () => {
    const { body: pairing } = await askToPair(appia, { name: 'Garage PC' });
    await page.goto(pairing['verificationUriComplete']);
    const field = page.getByLabel('Code the device shows');
    await field.waitFor();
    assert.equal(await field.inputValue(), pairing['userCode']);
    assert.equal(page.url(), `${appia.url}/`);

    await field.fill('BCDF-GHJK');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('alert').filter({ hasText: 'itemNotFound' }).waitFor();
    assert.match(await page.getByRole('alert').textContent() ?? '', /no device is waiting to pair with this code/);

    await field.fill(pairing['userCode']);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('status').filter({ hasText: 'Pairing refused' }).waitFor();
    clock.advance(1000);
    assert.equal((await pollToken(appia, pairing['pairingId'])).body['error'], 'access_denied');
    assert.deepEqual(pageErrors, []);
  });
});
