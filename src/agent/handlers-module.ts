import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppService, AppServices } from './app-services.js';

/**
 * Loads a handlers module (`--handlers FILE`): an ESM file whose default
 * export is an object of app service name -> async function, or whose named
 * exports are those functions. Anything else is a clear error at startup
 * rather than a failure at the first command.
 */
export async function loadHandlersModule(file: string): Promise<AppServices> {
  const url = pathToFileURL(resolve(file)).href;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load the handlers module ${file}: ${(err as Error).message}`);
  }
  const exported = module['default'] !== undefined && typeof module['default'] === 'object' ? (module['default'] as Record<string, unknown>) : module;
  const services: Record<string, AppService> = {};
  const wrong: string[] = [];
  for (const [name, value] of Object.entries(exported ?? {})) {
    if (name === 'default') continue;
    if (typeof value === 'function') services[name] = value as AppService;
    else wrong.push(name);
  }
  if (wrong.length > 0) throw new Error(`the handlers module ${file} exports ${wrong.join(', ')}, which ${wrong.length === 1 ? 'is not a function' : 'are not functions'}`);
  if (Object.keys(services).length === 0) {
    throw new Error(`the handlers module ${file} exports no app services (export default { name: async (payload, ctx) => ({ ... }) })`);
  }
  return services;
}
