// Baseline: MQTT 5 request/response through the benchmark's own Mosquitto,
// QoS 1 both ways. Each responder subscribes to its own topic; a request
// carries the MQTT 5 response topic and correlation data, and the responder
// publishes its answer there.
import { existsSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { delimiter, isAbsolute, join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { freePort, loopback, waitForPort } from '../lib/ports.js';
import { measureRequestReply, PendingReplies, spread } from '../lib/request-reply.js';
import type { RunningRole } from '../lib/role.js';
import type { Scenario } from '../lib/scenario.js';
import { replyBytes, requestBytes, shape } from '../lib/shape.js';

export const mqtt: Scenario = {
  name: 'mqtt',
  title: 'MQTT 5 request/response via Mosquitto (QoS 1)',
  kind: 'baseline',
  async run(context) {
    const mosquitto = findMosquitto();
    if (mosquitto === undefined) return { skipped: 'mosquitto not found (/usr/sbin/mosquitto or on PATH)' };

    context.progress('starting mosquitto and 100 responders');
    const port = await freePort();
    const dir = context.processes.tempDir('mosquitto');
    const config = join(dir, 'mosquitto.conf');
    writeFileSync(config, mosquittoConfig(port));
    context.processes.spawn('mosquitto', mosquitto, ['-c', config]);
    await waitForPort(port);

    const url = `mqtt://${loopback}:${port}`;
    const prefix = `appia-bench/${process.pid}`;
    await context.processes.startWorker('mqtt-responders', { url, prefix, count: shape.responders });
    const requesters = await Promise.all(
      Array.from({ length: shape.requesterConnections }, (_, n) => MqttRequester.connect(url, prefix, n)),
    );
    try {
      return await measureRequestReply(context, spread(requesters));
    } finally {
      await Promise.all(requesters.map((r) => r.close()));
    }
  },
};

/**
 * The stock config leaves Nagle's algorithm on, which stalls QoS 1 at about
 * 44 ms per round trip (a PUBACK waits for the delayed ACK), hence
 * set_tcp_nodelay here and setNoDelay on the clients. The in-flight and queue
 * limits are raised so that the broker, not a window of 20, sets the pace.
 */
function mosquittoConfig(port: number): string {
  return [
    `listener ${port} ${loopback}`,
    'allow_anonymous true',
    'persistence false',
    'set_tcp_nodelay true',
    'max_inflight_messages 0',
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

function findMosquitto(): string | undefined {
  const candidates = ['/usr/sbin/mosquitto', ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'mosquitto'))];
  return candidates.find((path) => isAbsolute(path) && existsSync(path));
}

async function connect(url: string, clientId: string): Promise<MqttClient> {
  const options: IClientOptions = { protocolVersion: 5, clientId, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 };
  const client = await connectAsync(url, options);
  (client.stream as Socket).setNoDelay(true);
  return client;
}

/** Role: `count` responders, each on its own connection and topic. */
export async function mqttResponders(options: { url: string; prefix: string; count: number }): Promise<RunningRole<undefined>> {
  const clients = await Promise.all(
    Array.from({ length: options.count }, async (_, n) => {
      const client = await connect(options.url, `${options.prefix}-responder-${n}`.replaceAll('/', '-'));
      client.on('message', (_topic, payload, packet) => {
        const responseTopic = packet.properties?.responseTopic;
        if (responseTopic === undefined) return;
        JSON.parse(payload.toString());
        client.publish(responseTopic, replyBytes, { qos: 1, properties: { correlationData: packet.properties?.correlationData } });
      });
      await client.subscribeAsync(`${options.prefix}/device/${n}`, { qos: 1 });
      return client;
    }),
  );
  return {
    info: undefined,
    stop: async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    },
  };
}

class MqttRequester {
  readonly #pending = new PendingReplies();

  private constructor(
    readonly client: MqttClient,
    readonly prefix: string,
    readonly replyTopic: string,
  ) {
    client.on('message', (_topic, payload, packet) => {
      const correlation = packet.properties?.correlationData;
      if (correlation === undefined || correlation.length !== 4) return;
      JSON.parse(payload.toString());
      this.#pending.settle(correlation.readUInt32BE(0));
    });
    client.on('close', () => this.#pending.close('broker connection closed'));
  }

  static async connect(url: string, prefix: string, n: number): Promise<MqttRequester> {
    const client = await connect(url, `${prefix}-requester-${n}`.replaceAll('/', '-'));
    const replyTopic = `${prefix}/reply/${n}`;
    await client.subscribeAsync(replyTopic, { qos: 1 });
    return new MqttRequester(client, prefix, replyTopic);
  }

  send(target: number): Promise<void> {
    const { id, reply } = this.#pending.open();
    const correlationData = Buffer.allocUnsafe(4);
    correlationData.writeUInt32BE(id, 0);
    this.client.publish(
      `${this.prefix}/device/${target}`,
      requestBytes,
      { qos: 1, properties: { responseTopic: this.replyTopic, correlationData } },
      (error) => error && this.#pending.fail(id, error),
    );
    return reply;
  }

  async close(): Promise<void> {
    this.#pending.close('closed');
    await this.client.endAsync(true);
  }
}
