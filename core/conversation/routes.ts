// POST /v1.0-alpha1|alpha2/conversation/{name}/converse with protobuf-JSON answers: 64-bit
// numbers as strings, zero values and empty lists left out.
import { DaprError } from '../errors.js';
import type { Exchange, Route } from '../http.js';
import type { ConversationResult } from './component.js';
import { parseAlpha1, parseAlpha2, type ParsedRequest } from './request.js';
import type { ConversationService } from './service.js';

async function bodyOf(ex: Exchange): Promise<Record<string, unknown>> {
  const v = await ex.json<unknown>();
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DaprError('malformedRequest', 'failed deserializing HTTP body: expected a JSON object');
  return v as Record<string, unknown>;
}

/** `metadata.<k>` query parameters under the body's metadata (the docs' form; the body wins). */
function withQueryMetadata(ex: Exchange, b: Record<string, unknown>): Record<string, unknown> {
  const q = ex.queryMetadata();
  if (Object.keys(q).length === 0) return b;
  const md = b.metadata && typeof b.metadata === 'object' ? (b.metadata as Record<string, unknown>) : {};
  return { ...b, metadata: { ...q, ...md } };
}

function alpha2Body(contextId: string | undefined, r: ConversationResult): Record<string, unknown> {
  const choices = r.choices.map((c) => {
    const message: Record<string, unknown> = {};
    if (c.content) message.content = c.content;
    if (c.toolCalls.length) message.toolCalls = c.toolCalls.map((t) => ({ ...(t.id ? { id: t.id } : {}), function: { name: t.name, arguments: t.arguments } }));
    return { ...(c.finishReason ? { finishReason: c.finishReason } : {}), ...(c.index ? { index: String(c.index) } : {}), message };
  });
  const output: Record<string, unknown> = {};
  if (choices.length) output.choices = choices;
  if (r.model) output.model = r.model;
  if (r.usage) {
    const u: Record<string, string> = {};
    if (r.usage.completionTokens) u.completionTokens = String(r.usage.completionTokens);
    if (r.usage.promptTokens) u.promptTokens = String(r.usage.promptTokens);
    if (r.usage.totalTokens) u.totalTokens = String(r.usage.totalTokens);
    output.usage = u;
  }
  return { ...(contextId ? { contextId } : {}), outputs: [output] };
}

function alpha1Body(contextId: string | undefined, r: ConversationResult): Record<string, unknown> {
  return { ...(contextId ? { contextID: contextId } : {}), outputs: r.choices.map((c) => (c.content ? { result: c.content } : {})) };
}

/** One version's converse route: the same steps, that version's request and answer shapes. */
function converseRoute(
  service: ConversationService,
  version: 'v1.0-alpha1' | 'v1.0-alpha2',
  parse: (b: Record<string, unknown>, component: string) => ParsedRequest,
  answer: (contextId: string | undefined, r: ConversationResult) => Record<string, unknown>,
): Route {
  return {
    method: 'POST',
    path: `/${version}/conversation/{name}/converse`,
    group: 'conversation',
    handler: async (ex) => {
      const name = ex.params.name!;
      service.model(name);
      const req = parse(withQueryMetadata(ex, await bodyOf(ex)), name);
      ex.sendJson(200, answer(req.contextId, await service.converse(name, req, ex.span)));
    },
  };
}

export function conversationRoutes(service: ConversationService): Route[] {
  return [converseRoute(service, 'v1.0-alpha2', parseAlpha2, alpha2Body), converseRoute(service, 'v1.0-alpha1', parseAlpha1, alpha1Body)];
}
