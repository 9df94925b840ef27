import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * DESIGN 9 in the web console, in a real browser against a real Appia and
 * devices on the SDK: a batch sent from the page shows as a grid of its
 * devices, each cell coloured by its command's status, moving live.
 */

const CHROMIUM = '/usr/bin/chromium';
const required = process.env['APPIA_REQUIRE_SERVICES'] === '1';
const missing = existsSync(CHROMIUM) ? undefined : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
if (missing) console.log(`# console batch tests: ${missing}${required ? '; required under APPIA_REQUIRE_SERVICES=1' : '; skipping'}`);

/** the status colours of console.css, as the browser computes them */
const GREEN = 'rgb(31, 136, 61)';
const GREY = 'rgb(140, 149, 159)';

describe('web console: a command batch as a grid of devices', { skip: missing && !required ? missing : false }, () => {
  let appia: TestAppia;
  let browser: Browser;
  let page: Page;
  let token: string;
  const devices: DeviceConnection[] = [];
  const consoleErrors: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));

  before(async () => {
    if (missing) throw new Error(missing);
    appia = await startTestAppia();
    token = await appia.token('bianca');
    const quick = await appia.addDevice(token, 'Quick PC');
    const slow = await appia.addDevice(token, 'Slow PC');
    await appia.addDevice(token, 'Away PC');
    const base = { url: appia.url, keepAliveMs: 0, reconnect: false as const };
    devices.push(await connect({ ...base, token: quick.deviceToken, handlers: { LaunchUri: async () => ({ opened: true }) } }));
    devices.push(await connect({ ...base, token: slow.deviceToken, handlers: { LaunchUri: async () => (await released, { opened: true }) } }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });
  after(async () => {
    release();
    await Promise.all(devices.map((d) => d.close()));
    await browser?.close();
    await appia?.stop();
  });

  const grid = () => page.locator('section.batch');
  const cell = (name: string) => grid().locator('.cell', { hasText: name });
  const colour = (name: string) => cell(name).evaluate((el) => getComputedStyle(el).backgroundColor);

  test('when a command is sent to all devices, then each device gets a cell that takes its status as it happens', async () => {
    await page.goto(`${appia.url}/#token=${token}`);
    await page.locator('.device', { hasText: 'Quick PC' }).getByText('Online', { exact: true }).waitFor();
    await page.getByLabel('Launch URI').check();
    await page.getByLabel('URI', { exact: true }).fill('https://example.com/release');
    await page.getByRole('button', { name: 'Send to all devices' }).click();

    await cell('Quick PC').and(page.locator('[data-status="completed"]')).waitFor();
    await cell('Slow PC').and(page.locator('[data-status="executing"]')).waitFor();
    assert.equal(await cell('Away PC').getAttribute('data-status'), 'requesting');
    assert.equal(await grid().locator('.cell').count(), 3);
    assert.equal(await colour('Quick PC'), GREEN);
    assert.equal(await colour('Away PC'), GREY);
    await grid().getByText('3 devices: 1 completed, 2 waiting', { exact: true }).waitFor();

    // the slow device finishes: its cell turns green without a reload
    release();
    await cell('Slow PC').and(page.locator('[data-status="completed"]')).waitFor();
    assert.equal(await colour('Slow PC'), GREEN);
    await grid().getByText('3 devices: 2 completed, 1 waiting', { exact: true }).waitFor();
  });

  test('when the batch is canceled from the page, then the device that never got it shows canceled, and the batch is done', async () => {
    await grid().getByRole('button', { name: 'Cancel batch' }).click();
    await cell('Away PC').and(page.locator('[data-status="canceled"]')).waitFor();
    await grid().getByText('3 devices: 2 completed, 1 canceled', { exact: true }).waitFor();
    assert.equal(await grid().getByRole('button', { name: 'Cancel batch' }).isDisabled(), true);
    // the API agrees with the page
    const [batch] = (await appia.api(token, 'GET', '/beta/me/commandBatches')).body.value;
    assert.deepEqual([batch.counts, batch.done], [{ completed: 2, canceled: 1 }, true]);
    assert.deepEqual(consoleErrors, []);
  });
});
