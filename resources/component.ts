import { Cursor, type Obj } from './decode.js';
import { parseGoDuration } from './duration.js';
import { decodeMetadataItems } from './metadata-items.js';
import type { ComponentResource } from './types.js';

const CATEGORIES = ['bindings.', 'configuration.', 'crypto.', 'lock.', 'middleware.', 'pubsub.', 'secretstores.', 'state.', 'conversation.'];

export function decodeComponent(c: Cursor, doc: Obj, name: string, namespace: string | undefined): ComponentResource {
  const spec = c.object(doc, 'spec') ?? c.at('spec').fail('is required');
  const s = c.at('spec');
  const type = s.string(spec, 'type', true)!;
  if (!CATEGORIES.some((p) => type.toLowerCase().startsWith(p))) {
    s.at('type').fail(`incorrect type ${type}: must start with one of ${CATEGORIES.map((p) => p.slice(0, -1)).join(', ')}`);
  }
  const initText = s.string(spec, 'initTimeout');
  const init = initText ? parseGoDuration(initText) : undefined;
  const auth = c.object(doc, 'auth');
  const out: ComponentResource = {
    kind: 'Component',
    name,
    type,
    version: s.string(spec, 'version') ?? '',
    initTimeoutMs: init !== undefined && init > 0 ? init : 5000,
    ignoreErrors: s.bool(spec, 'ignoreErrors') ?? false,
    metadata: decodeMetadataItems(s.at('metadata'), s.array(spec, 'metadata')),
    scopes: c.strings(doc, 'scopes'),
    origin: { file: c.file, doc: c.doc },
  };
  if (namespace) out.namespace = namespace;
  const store = auth ? c.at('auth').string(auth, 'secretStore') : undefined;
  if (store) out.secretStore = store;
  return out;
}
