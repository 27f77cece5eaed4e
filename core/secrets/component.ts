import type { Component } from '../component.js';

/** A secret store: one secret is a map of key -> value. */
export interface SecretStore extends Component {
  /** Throws SecretNotFoundError when the secret does not exist. */
  getSecret(name: string, metadata: Record<string, string>): Promise<Record<string, string>>;
  bulkGetSecret(metadata: Record<string, string>): Promise<Record<string, Record<string, string>>>;
}

export class SecretNotFoundError extends Error {
  override readonly name = 'SecretNotFoundError';
  constructor(secret: string) {
    super(`secret ${secret} not found`);
  }
}
