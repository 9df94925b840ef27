import type { FastifyRequest } from 'fastify';
import { baseUrl } from './odata.js';

/** `@odata.context` URLs, on the version (`beta` or `v1.0`) and host the client used. */
export function representation(request: FastifyRequest, config: { publicUrl: string | null }) {
  const version = /^\/v1\.0\//i.test(request.url) ? 'v1.0' : 'beta';
  const root = `${baseUrl(request, config.publicUrl)}/${version}/$metadata#`;
  const user = `users('${encodeURIComponent(request.caller.userId)}')`;
  return {
    devices: () => `${root}${user}/devices`,
    device: () => `${root}${user}/devices/$entity`,
    commands: (deviceId: string) => `${root}${user}/devices('${deviceId}')/commands`,
    command: (deviceId: string) => `${root}${user}/devices('${deviceId}')/commands/$entity`,
    history: (deviceId: string, commandId: string) => `${root}${user}/devices('${deviceId}')/commands('${commandId}')/history`,
    payloadResponse: () => `${root}microsoft.graph.PayloadResponse`,
    batches: () => `${root}${user}/commandBatches`,
    batch: () => `${root}${user}/commandBatches/$entity`,
    batchCommands: (batchId: string) => `${root}${user}/commandBatches('${batchId}')/commands`,
  };
}
