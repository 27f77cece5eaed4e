// The conversation API through a real sidecar: conversation.echo, and conversation.openai against
// an OpenAI-compatible server on loopback (cache, OPENAI_MODEL, PII scrubbing, resiliency).
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type SidecarProc } from '../helpers/processes.js';

interface Seen {
  path: string;
  auth: string | undefined;
  apiKey: string | undefined;
  body: { model: string; messages: Array<{ role: string; content: string }>; max_tokens?: number; temperature?: number; tools?: unknown[] };
}

const seen: Seen[] = [];
let llm: Server;
let llmPort = 0;
let sidecar: SidecarProc;

function component(name: string, type: string, md: Record<string, string> = {}): string {
  const items = Object.entries(md).map(([k, v]) => `  - name: ${k}\n    value: "${v}"`).join('\n');
  return `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\nspec:\n  type: ${type}\n  version: v1\n${items ? `  metadata:\n${items}` : '  metadata: []'}\n`;
}

beforeAll(async () => {
  // A small OpenAI-compatible server: answers with the last user message upper-cased, or stalls for `/slow`.
  llm = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as Seen['body'];
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, apiKey: req.headers['api-key'] as string | undefined, body });
      if (req.url?.startsWith('/slow')) return void setTimeout(() => res.end('{}'), 20_000).unref();
      // Azure OpenAI's shape: the deployment in the path, api-version in the query, the key in api-key.
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/azure/')) {
        const m = /^\/azure\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(url.pathname);
        if (!m || decodeURIComponent(m[1]!) !== body.model) return void res.writeHead(404).end('{"error":{"code":"DeploymentNotFound"}}');
        if (url.searchParams.get('api-version') !== '2025-01-01-preview') return void res.writeHead(404).end('{"error":{"code":"404","message":"Resource not found"}}');
        if (req.headers['api-key'] !== 'azure-key' || req.headers.authorization !== undefined) return void res.writeHead(401).end('{"error":{"code":"401"}}');
      }
      const last = body.messages[body.messages.length - 1]!.content;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        id: 'chatcmpl-1',
        model: body.model,
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `ANSWER: ${last.toUpperCase()} (reach me at bot@example.com)` } }],
        usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
      }));
    });
  });
  await new Promise<void>((r) => llm.listen(0, '127.0.0.1', r));
  llmPort = (llm.address() as AddressInfo).port;
  sidecar = await startSidecar({
    appId: 'conv-app',
    args: ['--dapr-grpc-port', '0'],
    env: { OPENAI_MODEL: 'env-model' },
    resources: {
      'echo.yaml': component('echo', 'conversation.echo'),
      'openai.yaml': component('llm', 'conversation.openai', { key: 'sk-test', model: 'yaml-model', endpoint: `http://127.0.0.1:${llmPort}/v1`, cacheTTL: '10m' }),
      'nocache.yaml': component('llm-nocache', 'conversation.openai', { key: 'sk-test', endpoint: `http://127.0.0.1:${llmPort}/v1` }),
      'slow.yaml': component('llm-slow', 'conversation.openai', { key: 'sk-test', endpoint: `http://127.0.0.1:${llmPort}/slow` }),
      'down.yaml': component('llm-down', 'conversation.openai', { key: 'sk-test', endpoint: 'http://127.0.0.1:1/v1' }),
      'azure.yaml': component('llm-azure', 'conversation.openai', { key: 'azure-key', apiType: 'azure', apiVersion: '2025-01-01-preview', endpoint: `http://127.0.0.1:${llmPort}/azure/`, cacheTTL: '10m' }),
      'azure-badversion.yaml': component('llm-azure-old', 'conversation.openai', { key: 'azure-key', apiType: 'azure', apiVersion: '2023-05-15', endpoint: `http://127.0.0.1:${llmPort}/azure` }),
      'resiliency.yaml': `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: llm-policies
spec:
  policies:
    timeouts: { quick: 500ms }
    retries: { once: { policy: constant, duration: 50ms, maxRetries: 1 } }
  targets:
    components:
      llm-slow:
        outbound: { timeout: quick, retry: once }
      llm-down:
        outbound: { retry: once }
`,
    },
  });
});

afterAll(async () => {
  await new Promise<void>((r) => llm.close(() => r()));
});

async function converse(version: 'alpha1' | 'alpha2', name: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const r = await fetch(`${sidecar.url}/v1.0-${version}/conversation/${name}/converse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, any> };
}

const user = (text: string) => ({ ofUser: { content: [{ text }] } });

describe('conversation.echo', () => {
  it('alpha2: echoes the messages joined by newlines with word-count usage as strings', async () => {
    const r = await converse('alpha2', 'echo', { contextId: 'ctx-1', inputs: [{ messages: [{ ofSystem: { content: [{ text: 'be brief' }] } }, user('hello there world')] }] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      contextId: 'ctx-1',
      outputs: [{ choices: [{ finishReason: 'stop', message: { content: 'be brief\nhello there world' } }], usage: { completionTokens: '5', promptTokens: '5', totalTokens: '10' } }],
    });
  });

  it('alpha2: one tool call per tool offered', async () => {
    const r = await converse('alpha2', 'echo', { inputs: [{ messages: [user('weather?')] }], tools: [{ function: { name: 'get_weather', parameters: { type: 'object' } } }], toolChoice: 'auto' });
    expect(r.json.outputs[0].choices[0]).toEqual({ finishReason: 'tool_calls', message: { toolCalls: [{ id: 'call_0', function: { name: 'get_weather', arguments: 'weather?' } }] } });
  });

  it('alpha1: inputs with content and results', async () => {
    const r = await converse('alpha1', 'echo', { contextID: 'c1', inputs: [{ content: 'first', role: 'user' }, { content: 'second' }] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ contextID: 'c1', outputs: [{ result: 'first\nsecond' }] });
  });

  it('scrubs PII from inputs (per input) and from outputs (top level)', async () => {
    const pii = 'mail john.doe@example.com, call +1 555-123-4567, card 4111 1111 1111 1111, host 10.0.0.12';
    const scrubbed = 'mail <EMAIL_ADDRESS>, call <PHONE_NUMBER>, card <CREDIT_CARD>, host <IP>';
    let r = await converse('alpha2', 'echo', { inputs: [{ messages: [user(pii)], scrubPii: true }] });
    expect(r.json.outputs[0].choices[0].message.content).toBe(scrubbed);
    r = await converse('alpha2', 'echo', { inputs: [{ messages: [user(pii)] }], scrubPii: true });
    expect(r.json.outputs[0].choices[0].message.content).toBe(scrubbed);
    r = await converse('alpha2', 'echo', { inputs: [{ messages: [user(pii)] }] });
    expect(r.json.outputs[0].choices[0].message.content).toBe(pii);
    r = await converse('alpha1', 'echo', { inputs: [{ content: pii, scrubPII: true }] });
    expect(r.json.outputs[0].result).toBe(scrubbed);
  });

  it('answers Dapr error codes for bad requests', async () => {
    expect(await converse('alpha2', 'nope', { inputs: [{ messages: [user('x')] }] })).toMatchObject({ status: 400, json: { errorCode: 'ERR_CONVERSATION_NOT_FOUND' } });
    expect(await converse('alpha2', 'echo', { inputs: [] })).toMatchObject({ status: 400, json: { errorCode: 'ERR_CONVERSATION_MISSING_INPUTS' } });
    expect(await converse('alpha1', 'echo', {})).toMatchObject({ status: 400, json: { errorCode: 'ERR_CONVERSATION_MISSING_INPUTS' } });
    expect(await converse('alpha2', 'echo', { inputs: [{ messages: [{}] }] })).toMatchObject({ status: 400, json: { errorCode: 'ERR_CONVERSATION_INVALID_PARMS' } });
    expect(await converse('alpha2', 'echo', { inputs: [{ messages: [user('x')] }], toolChoice: 'missing_tool' })).toMatchObject({ status: 400, json: { errorCode: 'ERR_CONVERSATION_INVALID_PARMS' } });
    expect(await converse('alpha2', 'echo', '{not json')).toMatchObject({ status: 400, json: { errorCode: 'ERR_MALFORMED_REQUEST' } });
  });
});

describe('conversation.openai against a loopback OpenAI-compatible server', () => {
  it('sends the chat request (OPENAI_MODEL over metadata, parameters unwrapped) and maps the answer', async () => {
    const before = seen.length;
    const r = await converse('alpha2', 'llm-nocache', {
      inputs: [{ messages: [user('hi')] }],
      temperature: 0.5,
      parameters: { max_tokens: { '@type': 'type.googleapis.com/google.protobuf.Int64Value', value: '100' } },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      outputs: [{ choices: [{ finishReason: 'stop', message: { content: 'ANSWER: HI (reach me at bot@example.com)' } }], model: 'env-model', usage: { completionTokens: '7', promptTokens: '11', totalTokens: '18' } }],
    });
    const req = seen[before]!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.auth).toBe('Bearer sk-test');
    expect(req.body).toMatchObject({ model: 'env-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100, temperature: 0.5 });
  });

  it('answers a repeated prompt from the cache (cacheTTL)', async () => {
    const body = { inputs: [{ messages: [user(`cache me ${Date.now()}`)] }] };
    const before = seen.length;
    const a = await converse('alpha2', 'llm', body);
    const b = await converse('alpha2', 'llm', body);
    expect(a.status).toBe(200);
    expect(b.json).toEqual(a.json);
    expect(seen.length - before).toBe(1);
    await converse('alpha2', 'llm-nocache', body);
    await converse('alpha2', 'llm-nocache', body);
    expect(seen.length - before).toBe(3);
  });

  it('scrubs the model output when asked', async () => {
    const r = await converse('alpha2', 'llm-nocache', { inputs: [{ messages: [user('x')] }], scrubPii: true });
    expect(r.json.outputs[0].choices[0].message.content).toBe('ANSWER: X (reach me at <EMAIL_ADDRESS>)');
  });

  it('a slow endpoint ends in ERR_CONVERSATION_INVOKE after the resiliency timeout and retry, not a hang', async () => {
    const before = seen.filter((s) => s.path.startsWith('/slow')).length;
    const r = await converse('alpha2', 'llm-slow', { inputs: [{ messages: [user('slow')] }] });
    expect(r.status).toBe(500);
    expect(r.json.errorCode).toBe('ERR_CONVERSATION_INVOKE');
    expect(r.json.message).toMatch(/deadline exceeded/);
    expect(seen.filter((s) => s.path.startsWith('/slow')).length - before).toBe(2);
  });

  it('a down endpoint ends in ERR_CONVERSATION_INVOKE', async () => {
    const r = await converse('alpha1', 'llm-down', { inputs: [{ content: 'x' }] });
    expect(r.status).toBe(500);
    expect(r.json.errorCode).toBe('ERR_CONVERSATION_INVOKE');
    expect(r.json.message).toMatch(/^failed conversing with component llm-down: /);
  });

  it('records dapr_component_conversation_count per component and outcome', async () => {
    const dir = join(sidecar.home, 'registry');
    const entry = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.json'))!), 'utf8')) as { metricsPort: number };
    const text = await (await fetch(`http://127.0.0.1:${entry.metricsPort}/metrics`)).text();
    const lines = text.split('\n').filter((l) => l.startsWith('dapr_component_conversation_count{'));
    expect(lines.some((l) => l.includes('component="llm"') && l.includes('success="true"'))).toBe(true);
    expect(lines.some((l) => l.includes('component="llm-down"') && l.includes('success="false"'))).toBe(true);
  });

  it('apiType azure: deployment path, api-version query and api-key header', async () => {
    const before = seen.length;
    const r = await converse('alpha2', 'llm-azure', { inputs: [{ messages: [user('azure')] }] });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs[0].choices[0].message.content).toBe('ANSWER: AZURE (reach me at bot@example.com)');
    expect(seen[before]).toMatchObject({ path: '/azure/openai/deployments/env-model/chat/completions?api-version=2025-01-01-preview', apiKey: 'azure-key', auth: undefined });
    // A request's model metadata picks the deployment; its api_key replaces the key (here: refused).
    const other = await converse('alpha2', 'llm-azure', { inputs: [{ messages: [user('deploy')] }], metadata: { model: 'gpt-4o-prod' } });
    expect(other.status).toBe(200);
    expect(seen[before + 1]!.path).toBe('/azure/openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-01-01-preview');
    const wrongKey = await converse('alpha2', 'llm-azure', { inputs: [{ messages: [user('key')] }], metadata: { api_key: 'other' } });
    expect(wrongKey.json.errorCode).toBe('ERR_CONVERSATION_INVOKE');
    expect(seen[before + 2]!.apiKey).toBe('other');
    const old = await converse('alpha2', 'llm-azure-old', { inputs: [{ messages: [user('x')] }] });
    expect([old.status, old.json.errorCode]).toEqual([500, 'ERR_CONVERSATION_INVOKE']);
    expect(old.json.message).toMatch(/404/);
  });

  it('lists the conversation components in metadata', async () => {
    const md = (await (await fetch(`${sidecar.url}/v1.0/metadata`)).json()) as { components: Array<{ name: string; type: string }> };
    expect(md.components).toEqual(expect.arrayContaining([{ name: 'echo', type: 'conversation.echo', version: 'v1', capabilities: [] }, expect.objectContaining({ name: 'llm', type: 'conversation.openai' })]));
  });
});
