// The building blocks the sidecar serves, one line each, in mount order.
import type { BlockFactory } from '../core/block.js';
import { bindingsBlock } from '../core/bindings/block.js';
import { conversationBlock } from '../core/conversation/block.js';
import { cryptoBlock } from '../core/crypto/block.js';
import { jobsBlock } from '../core/jobs/block.js';
import { configurationBlock } from '../core/configuration/block.js';
import { lockBlock } from '../core/lock/block.js';
import { pubsubBlock } from '../core/pubsub/block.js';
import { secretsBlock } from '../core/secrets/block.js';
import { stateBlock } from '../core/state/block.js';
import { workflowBlock } from '../core/workflow/block.js';
import { actorsBlock } from './placement/index.js';

export const BLOCKS: readonly BlockFactory[] = [
  secretsBlock,
  stateBlock,
  pubsubBlock,
  bindingsBlock,
  lockBlock,
  configurationBlock,
  cryptoBlock,
  conversationBlock,
  jobsBlock,
  actorsBlock,
  workflowBlock,
];
