import type { FastifyPluginAsync } from 'fastify';
import { answers, textAnswer } from '../response-schemas.js';

const CORE = 'Org.OData.Core.V1';

/** a Core.Description annotation: what Appia adds or means, for people reading the document */
const describe = (text: string) => `<Annotation Term="Core.Description" String="${text}"/>`;
const prop = (name: string, type: string, options: { nullable?: boolean; note?: string } = {}) =>
  `<Property Name="${name}" Type="${type}"${options.nullable === false ? ' Nullable="false"' : ''}${options.note ? `>${describe(options.note)}</Property>` : '/>'}`;
const text = (name: string, note?: string) => prop(name, 'Edm.String', note ? { note } : {});
const time = (name: string, note?: string) => prop(name, 'Edm.DateTimeOffset', note ? { note } : {});

/**
 * DESIGN 2: the CSDL (OData v4 XML) that every `@odata.context` of Appia's
 * answers points at: the user's `devices`, each device's `commands`, a
 * command's `history` and the device's answer. Types follow Graph's beta
 * metadata (`device`, `command` with the navigation property
 * `responsepayload` in lower case, `payloadResponse`); what Appia adds
 * carries a Core.Description. The seed's payload context names
 * `microsoft.graph.PayloadResponse`, so that name is declared as well.
 */
export const METADATA_XML = [
  '<?xml version="1.0" encoding="utf-8"?>',
  '<edmx:Edmx Version="4.01" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
  `<edmx:Reference Uri="https://oasis-tcs.github.io/odata-vocabularies/vocabularies/${CORE}.xml"><edmx:Include Namespace="${CORE}" Alias="Core"/></edmx:Reference>`,
  '<edmx:DataServices>',
  '<Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
  '<EntityType Name="entity" Abstract="true"><Key><PropertyRef Name="id"/></Key>' + prop('id', 'Edm.String', { nullable: false }) + '</EntityType>',
  '<EntityType Name="user" BaseType="graph.entity">',
  '<NavigationProperty Name="devices" Type="Collection(graph.device)" ContainsTarget="true"/>',
  '</EntityType>',
  '<EntityType Name="device" BaseType="graph.entity">',
  prop('name', 'Edm.String', { nullable: false }),
  text('kind', 'form factor: Desktop, Phone, Tablet, ...'),
  text('status', 'Online, Offline, Standby or Unknown'),
  text('platform'),
  text('model'),
  text('manufacturer'),
  time('lastSeenDateTime'),
  text('deviceToken', 'only in the answer to the registration (Appia extension)'),
  '<NavigationProperty Name="commands" Type="Collection(graph.command)" ContainsTarget="true"/>',
  '</EntityType>',
  '<EntityType Name="command" BaseType="graph.entity">',
  text('status'),
  text('type', 'LaunchUri or AppService'),
  text('appServiceName'),
  text('packageFamilyName'),
  prop('payload', 'graph.payloadRequest'),
  text('permissionTicket'),
  text('postBackUri'),
  text('error'),
  prop('responsePayload', 'Edm.Untyped', { note: "the device's answer, always served (Appia); the same as the responsepayload navigation property" }),
  text('customStatus', "the device's progress text while status is custom (Appia extension)"),
  time('createdDateTime', 'Appia extension'),
  time('lastModifiedDateTime', 'Appia extension'),
  time('expirationDateTime', 'Appia extension'),
  prop('history', 'Collection(graph.commandStatusChange)', { note: 'every status change, oldest first; served only at its own path (Appia extension)' }),
  '<NavigationProperty Name="responsepayload" Type="graph.payloadResponse" ContainsTarget="true"/>',
  '</EntityType>',
  '<ComplexType Name="payloadRequest" OpenType="true"/>',
  '<EntityType Name="payloadResponse" BaseType="graph.entity" OpenType="true"/>',
  `<EntityType Name="PayloadResponse" BaseType="graph.payloadResponse" OpenType="true">${describe("the device's answer at .../responsePayload; the name the seed's @odata.context uses")}</EntityType>`,
  '<ComplexType Name="commandStatusChange">',
  prop('status', 'Edm.String', { nullable: false }),
  prop('dateTime', 'Edm.DateTimeOffset', { nullable: false }),
  text('detail', 'why, when known'),
  '</ComplexType>',
  '<EntityContainer Name="GraphService">',
  '<EntitySet Name="users" EntityType="graph.user"/>',
  '<Singleton Name="me" Type="graph.user"/>',
  '</EntityContainer>',
  '</Schema>',
  '</edmx:DataServices>',
  '</edmx:Edmx>',
].join('\n');

/**
 * GET /beta/$metadata and /v1.0/$metadata: no token needed, as on Graph.
 *
 * @example
 * app.register(metadataRoutes()); // outside the /beta and /v1.0 plugins, whose hook asks for a token
 */
export function metadataRoutes(): FastifyPluginAsync {
  return async (app) => {
    for (const version of ['beta', 'v1.0']) {
      app.get(
        `/${version}/$metadata`,
        { schema: { summary: 'The CSDL document every @odata.context points at', response: answers({ 200: textAnswer('application/xml', 'CSDL (OData v4 XML)') }) } },
        async (_request, reply) => reply.type('application/xml').send(METADATA_XML),
      );
    }
  };
}
