// The part of oidc-provider's API the test provider uses (the package ships
// no types). See node_modules/oidc-provider/README.md and its docs.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface InteractionDetails {
    readonly uid: string;
    readonly params: Record<string, unknown>;
  }

  class Grant {
    constructor(properties: { accountId: string; clientId: string });
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown> & {
      features?: Record<string, unknown> & {
        resourceIndicators?: {
          enabled: boolean;
          defaultResource?: (ctx: unknown) => string;
          useGrantedResource?: (ctx: unknown) => boolean;
          getResourceServerInfo?: (ctx: unknown, resource: string) => Record<string, unknown>;
        };
      };
      interactions?: { url: (ctx: unknown, interaction: { uid: string }) => string };
      findAccount?: (ctx: unknown, id: string) => { accountId: string; claims: () => Record<string, unknown> };
    });
    readonly Grant: typeof Grant;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  }
}
