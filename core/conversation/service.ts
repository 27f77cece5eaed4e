// The conversation block: PII scrubbing around the model call, which runs under the component
// outbound policy and is recorded as Dapr's conversation component metric.
import { DaprError } from '../errors.js';
import type { PolicyProvider } from '../policy.js';
import type { Span, Telemetry } from '../telemetry.js';
import type { ConversationModel, ConversationResult } from './component.js';
import { scrubPii } from './pii.js';
import type { ParsedRequest } from './request.js';

export class ConversationService {
  constructor(
    private readonly models: ReadonlyMap<string, ConversationModel>,
    private readonly policies: PolicyProvider,
    private readonly telemetry: Telemetry,
  ) {}

  /** Throws ERR_CONVERSATION_NOT_FOUND before the body is read, as Dapr checks the component first. */
  model(name: string): ConversationModel {
    const m = this.models.get(name);
    if (!m) throw new DaprError('conversationNotFound', `failed finding conversation component ${name}`);
    return m;
  }

  /** `parent` (the API span) gets a child span for the model call when sampled. */
  async converse(name: string, req: ParsedRequest, parent?: Span): Promise<ConversationResult> {
    const model = this.model(name);
    const messages = req.messages.map((m, i) => (req.scrubInput[i] ? { ...m, content: scrubPii(m.content) } : m));
    let result: ConversationResult;
    const started = performance.now();
    let ok = false;
    try {
      result = await this.policies.componentOutbound(name).run((signal) =>
          model.converse(
            {
              messages,
              tools: req.tools,
              metadata: req.metadata,
              parameters: req.parameters,
              ...(req.toolChoice !== undefined ? { toolChoice: req.toolChoice } : {}),
              ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
              ...(req.responseFormat !== undefined ? { responseFormat: req.responseFormat } : {}),
            },
            signal,
          ),
      );
      ok = true;
    } catch (err) {
      if (err instanceof DaprError) throw err;
      throw new DaprError('conversationInvoke', `failed conversing with component ${name}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.telemetry.recordComponent('conversation', name, 'converse', ok, performance.now() - started, parent);
    }
    if (req.scrubOutput) {
      for (const c of result.choices) {
        c.content = scrubPii(c.content);
        for (const t of c.toolCalls) t.arguments = scrubPii(t.arguments);
      }
    }
    return result;
  }
}
