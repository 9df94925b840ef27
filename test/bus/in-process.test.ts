import { InProcessBus } from '../../src/bus/in-process.js';
import { busContract } from '../contract/bus.contract.js';

// One process is one node: both "nodes" are the same bus.
busContract('in-process', async () => {
  const bus = new InProcessBus();
  return { a: bus, b: bus, cleanup: () => bus.close() };
});
