// `{name, value | secretKeyRef | envRef}` items of Components and HTTPEndpoint headers.
import { Cursor, isObject, type Obj } from './decode.js';
import type { MetadataItem } from './types.js';

/** Dapr's string form of a metadata value: strings as is, other JSON as compact JSON text. */
export function stringifyValue(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function decodeMetadataItems(c: Cursor, list: unknown[]): MetadataItem[] {
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const at: Cursor = c.at(i);
    if (!isObject(raw)) at.fail('must be a mapping with name and value');
    const name = at.string(raw, 'name', true)!;
    const lower = name.toLowerCase();
    if (seen.has(lower)) at.at('name').fail(`metadata key ${name} is duplicate`);
    seen.add(lower);
    const item: MetadataItem = { name };
    const value = stringifyValue(at.get(raw, 'value'));
    if (value !== undefined) item.value = value;
    const ref = at.object(raw, 'secretKeyRef');
    if (ref) {
      const refAt = at.at('secretKeyRef');
      item.secretKeyRef = { name: refAt.string(ref, 'name', true)!, key: refAt.string(ref, 'key') ?? '' };
    }
    const env = at.string(raw as Obj, 'envRef');
    if (env) item.envRef = env;
    return item;
  });
}
