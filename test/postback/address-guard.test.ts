// DESIGN 6, safety. Every range is tested on the address check itself: nothing
// here opens a connection, and the DNS seam answers only from its table.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppiaError } from '../../src/domain/errors.js';
import { judgeAddress } from '../../src/postback/address-ranges.js';
import { NO_POSTBACK_ALLOW, parsePostbackAllow } from '../../src/postback/allow-list.js';
import { checkPostbackUrl, pinnedLookup, resolvePostbackHost } from '../../src/postback/address-guard.js';
import { fakeLookup } from './support.js';

const refusedWith = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof AppiaError, `an AppiaError, got ${String(err)}`);
  assert.equal(err.code, 'badRequest');
  assert.match(err.message, /postBackUri/);
  assert.match(err.message, pattern);
  return true;
};

const noDns = fakeLookup({});

describe('the address check: only public addresses may receive postbacks', () => {
  const refused: [string, RegExp][] = [
    ['127.0.0.1', /loopback/], ['127.255.255.254', /loopback/],
    ['10.0.0.1', /private/], ['10.255.255.255', /private/], ['172.16.0.1', /private/], ['172.31.255.255', /private/], ['192.168.1.1', /private/],
    ['169.254.169.254', /link-local.*metadata/], ['169.254.0.1', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/], ['100.127.255.255', /carrier-grade NAT/],
    ['224.0.0.1', /multicast/], ['239.255.255.250', /multicast/],
    ['0.0.0.0', /unspecified/], ['0.1.2.3', /unspecified/], ['255.255.255.255', /broadcast/],
    ['240.0.0.1', /reserved/], ['192.0.0.8', /reserved/], ['192.0.2.1', /reserved/], ['198.51.100.7', /reserved/], ['203.0.113.9', /reserved/],
    ['198.18.0.1', /reserved/], ['198.19.255.255', /reserved/], // benchmarking, 198.18.0.0/15
    ['::1', /loopback/], ['::', /unspecified/],
    ['fe80::1', /link-local/], ['febf:ffff::1', /link-local/], ['fc00::1', /unique-local/], ['fd12:3456::1', /unique-local/],
    ['ff02::1', /multicast/], ['fec0::1', /site-local/], ['100::1', /discard/],
    ['2001:db8::1', /reserved/], ['2001:2::1', /benchmarking/], ['4000::1', /outside global unicast/],
    ['::ffff:127.0.0.1', /IPv4-mapped form of 127\.0\.0\.1, a loopback/], ['::ffff:a00:1', /IPv4-mapped form of 10\.0\.0\.1, a private/],
    ['::ffff:169.254.169.254', /IPv4-mapped.*link-local/], ['::ffff:0:7f00:1', /IPv4-translated form of 127\.0\.0\.1/],
    ['::7f00:1', /IPv4-compatible form of 127\.0\.0\.1/], ['::a9fe:a9fe', /IPv4-compatible form of 169\.254\.169\.254/],
    ['::127.0.0.1', /form of 127\.0\.0\.1, a loopback/], // ipaddr.js reads this spelling as mapped; the verdict is the same
    ['64:ff9b::7f00:1', /NAT64 form of 127\.0\.0\.1/], ['64:ff9b::c0a8:101', /NAT64 form of 192\.168\.1\.1/], ['64:ff9b:1::808:808', /local-use NAT64/],
    ['2002:7f00:1::1', /6to4 form of 127\.0\.0\.1/], ['2002:a9fe:a9fe::1', /6to4 form of 169\.254\.169\.254/],
    // Teredo: server 65.54.227.120, client 127.0.0.1 (stored inverted as 80ff:fffe) / client 192.0.2.45 / server 10.0.0.1
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', /Teredo form of 127\.0\.0\.1/], ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo form of 192\.0\.2\.45/],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', /Teredo form of 10\.0\.0\.1/],
  ];
  test('loopback, private, link-local, CGNAT, multicast, unspecified, broadcast, reserved and benchmarking addresses are refused, also inside IPv6 forms', () => {
    for (const [address, reason] of refused) {
      const verdict = judgeAddress(address);
      assert.equal(verdict.public, false, `${address} must be refused`);
      if (!verdict.public) assert.match(verdict.reason, reason, address);
    }
  });

  test('public addresses pass, right up to the edges of the refused ranges', () => {
    const open = ['8.8.8.8', '1.1.1.1', '93.184.215.14', '9.255.255.255', '11.0.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0',
      '100.63.255.255', '100.128.0.0', '169.253.255.255', '169.255.0.0', '126.255.255.255', '128.0.0.0', '223.255.255.255', '198.17.255.255', '198.20.0.0',
      '2606:4700:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'];
    for (const address of open) assert.deepEqual(judgeAddress(address), { public: true }, address);
  });

  test('text that is not a canonical address is not judged as one', () => {
    for (const text of ['127.1', '0x7f000001', '2130706433', 'localhost', '']) assert.equal(judgeAddress(text).public, false, text);
  });
});

describe('postBackUri at create time: its syntax', () => {
  test('an https URL on a host name passes and comes back parsed', () => {
    const url = checkPostbackUrl('https://hooks.example.com/appia?x=1', NO_POSTBACK_ALLOW);
    assert.equal(url.hostname, 'hooks.example.com');
    assert.equal(checkPostbackUrl(`https://example.com/${'a'.repeat(2048 - 20)}`, NO_POSTBACK_ALLOW).protocol, 'https:');
  });

  test('credentials in the URL are refused', () => {
    for (const text of ['https://user:pw@example.com/', 'https://user@example.com/', 'https://:pw@example.com/']) {
      assert.throws(() => checkPostbackUrl(text, NO_POSTBACK_ALLOW), refusedWith(/credentials/), text);
    }
  });

  test('spaces, line breaks and other control characters are refused on the raw text, before the URL parser strips them', () => {
    const cases: [string, RegExp][] = [
      ['https://example.com/a\r\nX-Injected: 1', /line break \(at character 22\)/], ['https://exa\nmple.com/', /line break/],
      ['https://example.com/a b', /a space/], ['https://example.com/\ta', /a tab/], ['https://example.com/\u0000', /U\+0000/],
      ['https://example.com/\u2028', /U\+2028/], ['https://example.com/\u202e', /U\+202E/], ['https://evil.test\\@example.com/', /backslash/],
      [' https://example.com/', /a space/],
    ];
    for (const [text, reason] of cases) assert.throws(() => checkPostbackUrl(text, NO_POSTBACK_ALLOW), refusedWith(reason), JSON.stringify(text));
  });

  test('schemes other than https, relative URLs and over-long URLs are refused', () => {
    for (const text of ['ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/plain,hi', 'ws://example.com/', 'gopher://example.com/']) {
      assert.throws(() => checkPostbackUrl(text, NO_POSTBACK_ALLOW), refusedWith(/must be an https URL/), text);
    }
    for (const text of ['/hooks', 'example.com/hooks', '']) assert.throws(() => checkPostbackUrl(text, NO_POSTBACK_ALLOW), refusedWith(/absolute https URL/), text);
    assert.throws(() => checkPostbackUrl(`https://example.com/${'a'.repeat(2048)}`, NO_POSTBACK_ALLOW), refusedWith(/at most 2048 characters/));
  });

  test('plain http is refused unless the operator allowed the host', () => {
    assert.throws(() => checkPostbackUrl('http://example.com/hook', NO_POSTBACK_ALLOW), refusedWith(/must use https.*APPIA_POSTBACK_ALLOW/));
    const byName = parsePostbackAllow('localhost');
    assert.equal(checkPostbackUrl('http://localhost:8080/hook', byName).port, '8080');
    assert.throws(() => checkPostbackUrl('http://example.com/hook', byName), refusedWith(/must use https/));
    const byRange = parsePostbackAllow('127.0.0.1/32');
    assert.equal(checkPostbackUrl('http://127.0.0.1:9/hook', byRange).hostname, '127.0.0.1');
    assert.throws(() => checkPostbackUrl('http://127.0.0.2/hook', byRange), refusedWith(/must use https/));
    // A name's addresses are known only once resolved: resolvePostbackHost decides (below).
    assert.equal(checkPostbackUrl('http://app.internal/hook', byRange).hostname, 'app.internal');
  });

  test('loopback written in short, numeric, hex, octal or IPv6 forms is seen as the address the URL parser makes of it, and refused', () => {
    for (const host of ['127.1', '0x7f000001', '2130706433', '017700000001', '127.0.0.1.', '0177.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:127.0.0.1]']) {
      assert.throws(() => checkPostbackUrl(`https://${host}/hook`, NO_POSTBACK_ALLOW), refusedWith(/loopback/), host);
    }
  });

  test('literal private and metadata addresses are refused without asking DNS', async () => {
    assert.throws(() => checkPostbackUrl('https://10.0.0.1/', NO_POSTBACK_ALLOW), refusedWith(/host 10\.0\.0\.1 is a private address/));
    assert.throws(() => checkPostbackUrl('https://169.254.169.254/latest/meta-data/', NO_POSTBACK_ALLOW), refusedWith(/metadata/));
    await assert.rejects(resolvePostbackHost(new URL('https://[fd00::1]/'), NO_POSTBACK_ALLOW, noDns), refusedWith(/unique-local/));
    assert.deepEqual(await resolvePostbackHost(new URL('https://8.8.8.8/'), NO_POSTBACK_ALLOW, noDns), ['8.8.8.8']);
    assert.equal(noDns.asked.length, 0);
  });
});

describe('the operator allow-list (APPIA_POSTBACK_ALLOW)', () => {
  test('hosts and CIDR ranges parse once; a wrong entry stops the start with a message naming it', () => {
    const allow = parsePostbackAllow(['LocalHost', ' hooks.internal. ', '10.0.0.0/8', 'fd00::/8', '[::1]', '192.168.7.7', '127.1']);
    assert.deepEqual([...allow.hosts].sort(), ['hooks.internal', 'localhost']);
    assert.equal(allow.ranges.length, 5);
    for (const bad of ['10.0.0.0/33', '10/8', 'http://x.test', 'host.test:8080', 'a b', 'x.test/path', 'user@x.test']) {
      assert.throws(() => parsePostbackAllow(bad), (err: Error) => err.name === 'ConfigError' && err.message.includes('APPIA_POSTBACK_ALLOW') && err.message.includes(bad), bad);
    }
  });

  test('an allowed host name may resolve anywhere; an allowed range admits only the addresses inside it', async () => {
    const allow = parsePostbackAllow('hooks.internal, 10.0.0.0/8, 127.0.0.0/8');
    const dns = fakeLookup({ 'hooks.internal': ['192.168.1.5'], 'app.internal': ['10.1.2.3'], 'mixed.internal': ['10.1.2.3', '192.168.1.5'] });
    assert.deepEqual(await resolvePostbackHost(new URL('http://hooks.internal/'), allow, dns), ['192.168.1.5']);
    assert.deepEqual(await resolvePostbackHost(new URL('https://app.internal/'), allow, dns), ['10.1.2.3']);
    await assert.rejects(resolvePostbackHost(new URL('https://mixed.internal/'), allow, dns), refusedWith(/resolves to 192\.168\.1\.5, a private address/));
    assert.deepEqual(await resolvePostbackHost(new URL('https://[::ffff:127.0.0.1]/'), allow, dns), ['::ffff:7f00:1']);
  });

  test('http to a name is allowed only when every address it resolves to is in an allowed range', async () => {
    const allow = parsePostbackAllow('10.0.0.0/8');
    const dns = fakeLookup({ 'app.internal': ['10.1.2.3'], 'public.test': ['8.8.8.8'] });
    assert.deepEqual(await resolvePostbackHost(checkPostbackUrl('http://app.internal/', allow), allow, dns), ['10.1.2.3']);
    await assert.rejects(resolvePostbackHost(checkPostbackUrl('http://public.test/', allow), allow, dns), refusedWith(/8\.8\.8\.8, not in APPIA_POSTBACK_ALLOW, which http requires/));
  });
});

describe('resolving the host, at create time and at every send', () => {
  test('a public-looking name whose DNS answers a private address is refused', async () => {
    const dns = fakeLookup({ 'hooks.example.com': ['10.0.0.7'], 'meta.example.com': ['169.254.169.254'], 'v6.example.com': ['::ffff:192.168.0.1'] });
    await assert.rejects(resolvePostbackHost(new URL('https://hooks.example.com/'), NO_POSTBACK_ALLOW, dns), refusedWith(/hooks\.example\.com resolves to 10\.0\.0\.7, a private address/));
    await assert.rejects(resolvePostbackHost(new URL('https://meta.example.com/'), NO_POSTBACK_ALLOW, dns), refusedWith(/metadata/));
    await assert.rejects(resolvePostbackHost(new URL('https://v6.example.com/'), NO_POSTBACK_ALLOW, dns), refusedWith(/IPv4-mapped form of 192\.168\.0\.1/));
  });

  test('every address counts: one private answer among public ones is refused', async () => {
    const dns = fakeLookup({ 'multi.example.com': ['8.8.8.8', '2001:4860:4860::8888', '127.0.0.1'] });
    await assert.rejects(resolvePostbackHost(new URL('https://multi.example.com/'), NO_POSTBACK_ALLOW, dns), refusedWith(/127\.0\.0\.1, a loopback address/));
  });

  test('a name that does not resolve is a 400; a DNS failure for the moment is unavailable', async () => {
    await assert.rejects(resolvePostbackHost(new URL('https://nowhere.example.com/'), NO_POSTBACK_ALLOW, fakeLookup({})), refusedWith(/does not resolve \(ENOTFOUND\)/));
    const flaky = async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    };
    await assert.rejects(resolvePostbackHost(new URL('https://flaky.example.com/'), NO_POSTBACK_ALLOW, flaky), (err: AppiaError) => err.code === 'unavailable' && /postBackUri/.test(err.message));
  });
});

describe('the pinned lookup hands the socket only the addresses it checked', () => {
  const ask = (lookup: ReturnType<typeof pinnedLookup>, hostname: string, options: { all?: boolean; family?: number }) =>
    new Promise<{ err: Error | null; address: unknown; family?: number | undefined }>((resolve) =>
      lookup(hostname, options, (err, address, family) => resolve({ err, address, family })),
    );

  test('when the name resolves to a refused address, the socket gets an error instead of an address', async () => {
    const url = new URL('https://hooks.example.com/');
    const lookup = pinnedLookup(url, NO_POSTBACK_ALLOW, fakeLookup({ 'hooks.example.com': ['8.8.8.8', '127.0.0.1'] }));
    for (const options of [{ all: true }, {}]) {
      const { err } = await ask(lookup, 'hooks.example.com', options);
      assert.ok(err instanceof AppiaError);
      assert.match(err.message, /hooks\.example\.com resolves to 127\.0\.0\.1, a loopback address/);
    }
  });

  test('when DNS rebinds between the create-time check and the connect, the connect sees the new answer and is refused', async () => {
    const url = new URL('https://rebind.example.com/');
    const dns = fakeLookup({ 'rebind.example.com': [['93.184.215.14'], ['127.0.0.1']] });
    assert.deepEqual(await resolvePostbackHost(url, NO_POSTBACK_ALLOW, dns), ['93.184.215.14']);
    const { err, address } = await ask(pinnedLookup(url, NO_POSTBACK_ALLOW, dns), 'rebind.example.com', { all: true });
    assert.match(String(err?.message), /resolves to 127\.0\.0\.1, a loopback address/);
    assert.equal(address, '');
  });

  test('public answers are handed over as checked, in both of the shapes node asks for, and by family', async () => {
    const url = new URL('https://hooks.example.com/');
    const lookup = pinnedLookup(url, NO_POSTBACK_ALLOW, fakeLookup({ 'hooks.example.com': ['8.8.8.8', '2001:4860:4860::8888'] }));
    assert.deepEqual((await ask(lookup, 'hooks.example.com', { all: true })).address, [{ address: '8.8.8.8', family: 4 }, { address: '2001:4860:4860::8888', family: 6 }]);
    assert.deepEqual(await ask(lookup, 'hooks.example.com', {}), { err: null, address: '8.8.8.8', family: 4 });
    assert.deepEqual(await ask(lookup, 'hooks.example.com', { family: 6 }), { err: null, address: '2001:4860:4860::8888', family: 6 });
  });
});
