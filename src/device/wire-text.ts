import type { Report } from './protocol.js';

/** The text of a ws message, whatever form ws handed it in. */
export function rawText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return String(data);
}

/** the `message` of a Graph-style error body, if that is what it is */
export function errorMessageOf(body: string): string | undefined {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } })?.error?.message;
    return typeof message === 'string' && message ? message : undefined;
  } catch {
    return body.trim().slice(0, 200) || undefined;
  }
}

export function describeReport(report: Report): string {
  return report.t === 'state' ? `the ${report.state} state` : `the ${report.t} report for command ${report.id}`;
}

/** whether `promise` settles within `ms` (it is not cancelled otherwise) */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
