// What the conversation block needs from an LLM component: one chat exchange over a flat list of
// messages (Dapr joins the messages of every input into one request).
import type { Component } from '../component.js';

export type Role = 'developer' | 'system' | 'user' | 'assistant' | 'tool';

export interface ToolCall {
  id?: string;
  name: string;
  arguments: string;
}

export interface Message {
  role: Role;
  name?: string;
  content: string;
  toolCalls?: ToolCall[];
  /** For role `tool`: the call this answers. */
  toolId?: string;
}

export interface Tool {
  name: string;
  description?: string;
  parameters?: unknown;
}

export interface ConversationRequest {
  messages: Message[];
  tools: Tool[];
  toolChoice?: string;
  temperature?: number;
  /** Request metadata (model, api_key...) over the component's. */
  metadata: Record<string, string>;
  /** `parameters` with the Any wrappers removed (max_tokens: 100). */
  parameters: Record<string, unknown>;
  responseFormat?: unknown;
}

export interface Choice {
  finishReason: string;
  index: number;
  content: string;
  toolCalls: ToolCall[];
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ConversationResult {
  choices: Choice[];
  model?: string;
  usage?: Usage;
}

export interface ConversationModel extends Component {
  converse(req: ConversationRequest, signal: AbortSignal | undefined): Promise<ConversationResult>;
}
