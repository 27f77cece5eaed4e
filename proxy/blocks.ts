// The building blocks the sidecar serves, one line each, in mount order.
import type { BlockFactory } from '../core/block.js';
import { secretsBlock } from '../core/secrets/block.js';

export const BLOCKS: readonly BlockFactory[] = [
  secretsBlock,
];
