// What the cryptography block needs from a crypto provider: wrapping and unwrapping the
// per-document file key with a named key the provider holds. Key material never leaves it.
import type { Component } from '../component.js';
import type { KeyAlgorithm } from './scheme.js';

export interface CryptoProvider extends Component {
  wrapKey(plaintextKey: Buffer, algorithm: KeyAlgorithm, keyName: string): Promise<Buffer>;
  unwrapKey(wrappedKey: Buffer, algorithm: KeyAlgorithm, keyName: string): Promise<Buffer>;
}
