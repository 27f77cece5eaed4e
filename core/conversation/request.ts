// Reading conversation requests as Dapr's protobuf-JSON handlers do (camelCase or snake_case
// names), into the component's flat message list; alpha1 and alpha2 shapes.
import { DaprError } from '../errors.js';
import type { Message, Role, Tool, ToolCall } from './component.js';

type Obj = Record<string, unknown>;

export interface ParsedRequest {
  contextId?: string;
  messages: Message[];
  /** Per message: scrub it before it goes to the model. */
  scrubInput: boolean[];
  scrubOutput: boolean;
  tools: Tool[];
  toolChoice?: string;
  temperature?: number;
  metadata: Record<string, string>;
  parameters: Record<string, unknown>;
  responseFormat?: unknown;
}

function field(o: Obj, ...names: string[]): unknown {
  for (const n of names) if (o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
}

function bad(_component: string, why: string): DaprError {
  return new DaprError('malformedRequest', `failed deserializing HTTP body: ${why}`);
}

function str(v: unknown, what: string, component: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(component, `${what} must be a string`);
  return v;
}

function bool(v: unknown): boolean {
  return v === true || v === 'true';
}

function stringMap(v: unknown, component: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(component, 'metadata must be an object');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Obj)) out[k] = typeof x === 'string' ? x : JSON.stringify(x);
  return out;
}

/** `google.protobuf.Any` values with the wrapper removed (Int64Value "100" -> 100). */
function parameters(v: unknown, component: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(component, 'parameters must be an object');
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Obj)) {
    if (x && typeof x === 'object' && '@type' in (x as Obj)) {
      const t = String((x as Obj)['@type']);
      const value = (x as Obj).value;
      out[k] = /Int64Value|UInt64Value|Int32Value|UInt32Value|DoubleValue|FloatValue/.test(t) && typeof value === 'string' ? Number(value) : value;
    } else {
      out[k] = x;
    }
  }
  return out;
}

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((c) => (c && typeof c === 'object' ? String((c as Obj).text ?? '') : '')).join('');
}

const ONE_OF: ReadonlyArray<[Role, string[]]> = [
  ['developer', ['ofDeveloper', 'of_developer']],
  ['system', ['ofSystem', 'of_system']],
  ['user', ['ofUser', 'of_user']],
  ['assistant', ['ofAssistant', 'of_assistant']],
  ['tool', ['ofTool', 'of_tool']],
];

function message(m: unknown, component: string): Message {
  if (!m || typeof m !== 'object') throw new DaprError('conversationInvalidParams', `message type is not set in conversation component ${component}`);
  for (const [role, names] of ONE_OF) {
    const body = field(m as Obj, ...names) as Obj | undefined;
    if (!body) continue;
    const out: Message = { role, content: text(body.content) };
    const name = field(body, 'name');
    if (typeof name === 'string' && name) out.name = name;
    if (role === 'tool') {
      const id = field(body, 'toolId', 'tool_id');
      if (typeof id === 'string' && id) out.toolId = id;
    }
    if (role === 'assistant') {
      const calls = field(body, 'toolCalls', 'tool_calls');
      if (Array.isArray(calls)) out.toolCalls = calls.map((c) => toolCall(c));
    }
    return out;
  }
  throw new DaprError('conversationInvalidParams', `message type is not set in conversation component ${component}`);
}

function toolCall(c: unknown): ToolCall {
  const o = (c ?? {}) as Obj;
  const fn = (o.function ?? {}) as Obj;
  return { ...(typeof o.id === 'string' && o.id ? { id: o.id } : {}), name: String(fn.name ?? ''), arguments: String(fn.arguments ?? '') };
}

function tools(v: unknown, component: string): Tool[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(component, 'tools must be an array');
  return v.map((t) => {
    const fn = ((t as Obj)?.function ?? {}) as Obj;
    if (typeof fn.name !== 'string' || !fn.name) throw new DaprError('conversationInvalidParams', `tool function name is required in conversation component ${component}`);
    return { name: fn.name, ...(typeof fn.description === 'string' ? { description: fn.description } : {}), ...(fn.parameters !== undefined ? { parameters: fn.parameters } : {}) };
  });
}

function common(b: Obj, component: string): Omit<ParsedRequest, 'messages' | 'scrubInput' | 'scrubOutput' | 'contextId'> {
  const temperature = field(b, 'temperature');
  if (temperature !== undefined && typeof temperature !== 'number') throw bad(component, 'temperature must be a number');
  return {
    tools: [],
    metadata: stringMap(field(b, 'metadata'), component),
    parameters: parameters(field(b, 'parameters'), component),
    ...(temperature !== undefined ? { temperature: temperature as number } : {}),
  };
}

export function parseAlpha2(b: Obj, component: string): ParsedRequest {
  const inputs = field(b, 'inputs');
  if (!Array.isArray(inputs) || inputs.length === 0) throw new DaprError('conversationMissingInputs', `failed conversing with component ${component}: missing inputs in request`);
  const messages: Message[] = [];
  const scrubInput: boolean[] = [];
  for (const input of inputs) {
    const i = (input ?? {}) as Obj;
    const scrub = bool(field(i, 'scrubPii', 'scrub_pii', 'scrubPII'));
    const ms = field(i, 'messages');
    if (!Array.isArray(ms) || ms.length === 0) throw new DaprError('conversationInvalidParams', `input messages are required in conversation component ${component}`);
    for (const m of ms) {
      messages.push(message(m, component));
      scrubInput.push(scrub);
    }
  }
  const out: ParsedRequest = {
    ...common(b, component),
    messages,
    scrubInput,
    scrubOutput: bool(field(b, 'scrubPii', 'scrub_pii', 'scrubPII')),
    tools: tools(field(b, 'tools'), component),
  };
  const ctx = str(field(b, 'contextId', 'context_id', 'contextID'), 'contextId', component);
  if (ctx) out.contextId = ctx;
  const choice = str(field(b, 'toolChoice', 'tool_choice'), 'toolChoice', component);
  if (choice) {
    if (!['auto', 'none', 'required'].includes(choice) && !out.tools.some((t) => t.name === choice)) {
      throw new DaprError('conversationInvalidParams', `tool choice must be 'auto', 'none', 'required', or a tool name present in the tools list, got '${choice}'`);
    }
    out.toolChoice = choice;
  }
  const format = field(b, 'responseFormat', 'response_format');
  if (format !== undefined) out.responseFormat = format;
  return out;
}

export function parseAlpha1(b: Obj, component: string): ParsedRequest {
  const inputs = field(b, 'inputs');
  if (!Array.isArray(inputs) || inputs.length === 0) throw new DaprError('conversationMissingInputs', `failed conversing with component ${component}: missing inputs in request`);
  const messages: Message[] = [];
  const scrubInput: boolean[] = [];
  for (const input of inputs) {
    const i = (input ?? {}) as Obj;
    const role = (str(field(i, 'role'), 'role', component) || 'user').toLowerCase();
    messages.push({ role: (['developer', 'system', 'user', 'assistant', 'tool'].includes(role) ? role : 'user') as Role, content: str(field(i, 'content'), 'content', component) ?? '' });
    scrubInput.push(bool(field(i, 'scrubPII', 'scrubPii', 'scrub_pii')));
  }
  const out: ParsedRequest = { ...common(b, component), messages, scrubInput, scrubOutput: bool(field(b, 'scrubPII', 'scrubPii', 'scrub_pii')) };
  const ctx = str(field(b, 'contextID', 'contextId', 'context_id'), 'contextID', component);
  if (ctx) out.contextId = ctx;
  return out;
}
