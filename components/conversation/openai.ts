// conversation.openai: any OpenAI-compatible chat completions endpoint. Model: env OPENAI_MODEL,
// else metadata `model`, else Dapr's default (a request's `model` metadata wins over all).
// `cacheTTL` (alias `responseCacheTTL`) keeps answers to identical requests for that long.
// `apiType: azure` speaks Azure OpenAI as Dapr's component does (through langchaingo): POST
// {endpoint}/openai/deployments/{model}/chat/completions?api-version={apiVersion} with the key in
// an `api-key` header; the model names the deployment, and `endpoint` and `apiVersion` are required.
import { createHash } from 'node:crypto';
import { meta, type ComponentContext } from '../../core/component.js';
import type { ConversationModel, ConversationRequest, ConversationResult, Message } from '../../core/conversation/component.js';
import { parseGoDuration } from '../../resources/duration.js';

const DEFAULT_MODEL = 'gpt-5-nano';
const DEFAULT_ENDPOINT = 'https://api.openai.com/v1';

interface OpenAiChoice {
  index?: number;
  finish_reason?: string;
  message?: { content?: string | null; tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }> };
}

export async function createOpenAiConversation(ctx: ComponentContext): Promise<ConversationModel> {
  const key = meta(ctx.metadata, 'key') ?? '';
  if (!key) throw new Error('conversation.openai: metadata property "key" is required');
  const model = ctx.env.OPENAI_MODEL || meta(ctx.metadata, 'model') || DEFAULT_MODEL;
  // Dapr switches on the exact value; anything but `azure` is plain OpenAI.
  const azure = meta(ctx.metadata, 'apiType') === 'azure';
  const apiVersion = meta(ctx.metadata, 'apiVersion') ?? '';
  if (azure && !meta(ctx.metadata, 'endpoint')) throw new Error('conversation.openai: metadata property "endpoint" is required when apiType is azure');
  if (azure && !apiVersion) throw new Error('conversation.openai: metadata property "apiVersion" is required when apiType is azure');
  const endpoint = (meta(ctx.metadata, 'endpoint') || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const chatUrl = (m: string): string =>
    azure ? `${endpoint}/openai/deployments/${encodeURIComponent(m)}/chat/completions?api-version=${encodeURIComponent(apiVersion)}` : `${endpoint}/chat/completions`;
  const ttlText = meta(ctx.metadata, 'cacheTTL', 'responseCacheTTL');
  const ttlMs = ttlText ? parseGoDuration(ttlText) : undefined;
  if (ttlText && ttlMs === undefined) throw new Error(`conversation.openai: invalid cacheTTL ${ttlText}`);
  const cache = new Map<string, { expires: number; result: ConversationResult }>();

  return {
    features: [],
    async converse(req, signal) {
      const useModel = req.metadata.model || model;
      const body = requestBody(req, useModel);
      const apiKey = req.metadata.api_key || req.metadata.key || key;
      const text = JSON.stringify(body);
      const url = chatUrl(useModel);
      const cacheKey = ttlMs ? createHash('sha256').update(url).update('\0').update(apiKey).update('\0').update(text).digest('hex') : '';
      if (ttlMs) {
        const hit = cache.get(cacheKey);
        if (hit && hit.expires > Date.now()) return structuredClone(hit.result);
        if (hit) cache.delete(cacheKey);
      }
      const res = await fetch(url, {
        method: 'POST',
        headers: azure ? { 'content-type': 'application/json', 'api-key': apiKey } : { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: text,
        ...(signal ? { signal } : {}),
      });
      const answer = await res.text();
      if (!res.ok) throw new Error(`API returned unexpected status code: ${res.status}: ${answer.slice(0, 500)}`);
      const v = JSON.parse(answer) as { model?: string; choices?: OpenAiChoice[]; usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } };
      const result: ConversationResult = {
        choices: (v.choices ?? []).map((c, i) => ({
          finishReason: c.finish_reason ?? '',
          index: c.index ?? i,
          content: c.message?.content ?? '',
          toolCalls: (c.message?.tool_calls ?? []).map((t) => ({ ...(t.id ? { id: t.id } : {}), name: t.function?.name ?? '', arguments: t.function?.arguments ?? '' })),
        })),
        ...(v.model ? { model: v.model } : {}),
        ...(v.usage ? { usage: { promptTokens: v.usage.prompt_tokens ?? 0, completionTokens: v.usage.completion_tokens ?? 0, totalTokens: v.usage.total_tokens ?? 0 } } : {}),
      };
      if (ttlMs) cache.set(cacheKey, { expires: Date.now() + ttlMs, result: structuredClone(result) });
      return result;
    },
  };
}

function wireMessage(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.name) out.name = m.name;
  if (m.role === 'tool' && m.toolId) out.tool_call_id = m.toolId;
  if (m.toolCalls?.length) out.tool_calls = m.toolCalls.map((t) => ({ ...(t.id ? { id: t.id } : {}), type: 'function', function: { name: t.name, arguments: t.arguments } }));
  return out;
}

function requestBody(req: ConversationRequest, model: string): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages: req.messages.map(wireMessage) };
  for (const k of ['max_tokens', 'max_completion_tokens', 'top_p', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'n']) {
    if (req.parameters[k] !== undefined) body[k] = req.parameters[k];
  }
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.tools.length) {
    body.tools = req.tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description ? { description: t.description } : {}), ...(t.parameters !== undefined ? { parameters: t.parameters } : {}) } }));
  }
  if (req.toolChoice) body.tool_choice = ['auto', 'none', 'required'].includes(req.toolChoice) ? req.toolChoice : { type: 'function', function: { name: req.toolChoice } };
  if (req.responseFormat !== undefined) body.response_format = req.responseFormat;
  return body;
}
