import { test } from 'node:test';
import { storeContract } from '../contract/store.contract.js';
import { postgresFixture } from './postgres-fixture.js';

const pg = await postgresFixture('contract');

if (pg.skip) {
  test('Store contract: postgres', { skip: pg.skip }, () => {});
} else {
  // every story of one run shares one fresh schema (the stories make their own users), dropped at the end
  storeContract('postgres', () => pg.open({ applicationName: pg.applicationName('contract') }), () => pg.cleanup());
}
