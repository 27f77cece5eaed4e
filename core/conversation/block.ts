// The conversation building block (alpha): LLM components behind Dapr's converse API.
import type { BlockFactory } from '../block.js';
import type { ConversationModel } from './component.js';
import { conversationRoutes } from './routes.js';
import { ConversationService } from './service.js';

export const conversationBlock: BlockFactory = (ctx) => {
  const service = new ConversationService(ctx.components.of<ConversationModel>('conversation'), ctx.policies, ctx.telemetry);
  return { name: 'conversation', routes: conversationRoutes(service) };
};
