import type { DeviceCommand } from './protocol.js';
import type { CommandHandler } from './types.js';

/** A device's handlers: by command type, and AppService ones by app service name. */
export class HandlerTable {
  readonly #byType = new Map<string, CommandHandler>();
  readonly #byAppService = new Map<string, CommandHandler>();

  handle(type: string, handler: CommandHandler): void {
    this.#byType.set(type, handler);
  }

  handleAppService(name: string, handler: CommandHandler): void {
    this.#byAppService.set(name, handler);
  }

  /** the handler for a command (an app service's own wins over the AppService one), or the error to fail it with */
  find(command: DeviceCommand): CommandHandler | string {
    if (command.type === 'AppService') {
      const name = command.appServiceName ?? '';
      const handler = this.#byAppService.get(name) ?? this.#byType.get('AppService');
      if (handler) return handler;
      const served = [...this.#byAppService.keys()];
      return `this device has no app service ${JSON.stringify(name)}${served.length ? ` (it serves: ${served.join(', ')})` : ''}`;
    }
    return this.#byType.get(command.type) ?? `this device does not handle ${command.type} commands`;
  }
}
