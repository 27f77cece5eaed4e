// conversation.echo: Dapr's test double. Answers with the messages' text joined by newlines
// (finish reason `stop`), or, when tools are offered, one call per tool (`tool_calls`); usage
// counts words.
import type { ComponentContext } from '../../core/component.js';
import type { ConversationModel } from '../../core/conversation/component.js';

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

export async function createEchoConversation(_ctx: ComponentContext): Promise<ConversationModel> {
  return {
    features: [],
    async converse(req) {
      const content = req.messages.map((m) => m.content).filter((c) => c !== '').join('\n');
      const prompt = words(content);
      if (req.tools.length > 0 && req.toolChoice !== 'none') {
        const toolCalls = req.tools.map((t, i) => ({ id: `call_${i}`, name: t.name, arguments: content }));
        return { choices: [{ finishReason: 'tool_calls', index: 0, content: '', toolCalls }], usage: { promptTokens: prompt, completionTokens: 0, totalTokens: prompt } };
      }
      return {
        choices: [{ finishReason: 'stop', index: 0, content, toolCalls: [] }],
        usage: { promptTokens: prompt, completionTokens: prompt, totalTokens: prompt * 2 },
      };
    },
  };
}
