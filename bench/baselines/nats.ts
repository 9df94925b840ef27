// Baseline: NATS request/reply through the machine's nats-server. Each
// responder subscribes to its own subject; requesters use NATS's request()
// (a reply inbox per connection).
import { connect, type NatsConnection } from 'nats';
import { findProcesses } from '../lib/cpu.js';
import { isPortOpen } from '../lib/ports.js';
import { measureRequestReply, spread } from '../lib/request-reply.js';
import type { RunningRole } from '../lib/role.js';
import type { Scenario } from '../lib/scenario.js';
import { replyBytes, requestBytes, shape } from '../lib/shape.js';

const natsHost = '127.0.0.1';
const natsPort = 4222;
const decoder = new TextDecoder();
/**
 * noAsyncTraces: by default nats.js captures a stack trace (two Error
 * objects) per request, which costs more than the request's own work here.
 */
const connectionOptions = { noAsyncTraces: true } as const;

export const nats: Scenario = {
  name: 'nats',
  title: 'NATS request/reply via nats-server',
  kind: 'baseline',
  async run(context) {
    if (!(await isPortOpen(natsPort, natsHost))) {
      return { skipped: `NATS is unreachable at ${natsHost}:${natsPort} (start nats-server there to include this baseline)` };
    }
    context.progress('connecting 100 responders');
    const servers = `${natsHost}:${natsPort}`;
    const prefix = `appia-bench.${process.pid}`;
    await context.processes.startWorker('nats-responders', { servers, prefix, count: shape.responders });
    const connections = await Promise.all(
      Array.from({ length: shape.requesterConnections }, () => connect({ ...connectionOptions, servers, name: `${prefix}.requester` })),
    );
    const requesters = connections.map((nc) => ({
      send: async (target: number): Promise<void> => {
        const reply = await nc.request(`${prefix}.device.${target}`, requestBytes, { timeout: shape.requestTimeoutMs });
        JSON.parse(decoder.decode(reply.data));
      },
    }));
    try {
      return await measureRequestReply(context, spread(requesters), { watch: findProcesses('nats-server') });
    } finally {
      await Promise.all(connections.map((nc) => nc.close()));
    }
  },
};

/** Role: `count` responders, each on its own connection and subject. */
export async function natsResponders(options: { servers: string; prefix: string; count: number }): Promise<RunningRole<undefined>> {
  const connections: NatsConnection[] = await Promise.all(
    Array.from({ length: options.count }, async (_, n) => {
      const nc = await connect({ ...connectionOptions, servers: options.servers, name: `${options.prefix}.responder.${n}` });
      nc.subscribe(`${options.prefix}.device.${n}`, {
        callback: (error, message) => {
          if (error) return;
          JSON.parse(decoder.decode(message.data));
          message.respond(replyBytes);
        },
      });
      await nc.flush(); // the subscription is registered on the server before 'ready'
      return nc;
    }),
  );
  return {
    info: undefined,
    stop: async () => {
      await Promise.all(connections.map((nc) => nc.close()));
    },
  };
}
