// Helpers for decoding resource documents the way Dapr does: Component, Subscription,
// Resiliency and HTTPEndpoint go through Go's encoding/json, so field names match
// case-insensitively (an exact match wins); Configuration keys are matched exactly.
import { ResourceError } from './resource-error.js';

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads field `name` of `obj`, exact match first, then case-insensitively. */
export function field(obj: Obj | undefined, name: string): unknown {
  if (!obj) return undefined;
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** Where we are in a document, so every complaint names file, document and field. */
export class Cursor {
  constructor(
    readonly file: string,
    readonly doc: number,
    readonly path: string,
    readonly caseInsensitive = true,
  ) {}

  at(name: string | number): Cursor {
    const path = typeof name === 'number' ? `${this.path}[${name}]` : this.path ? `${this.path}.${name}` : name;
    return new Cursor(this.file, this.doc, path, this.caseInsensitive);
  }

  fail(reason: string, cause?: unknown): never {
    throw new ResourceError(this.file, this.doc, this.path, reason, cause ? { cause } : undefined);
  }

  get(obj: Obj | undefined, name: string): unknown {
    if (!obj) return undefined;
    return this.caseInsensitive ? field(obj, name) : obj[name];
  }

  object(obj: Obj | undefined, name: string): Obj | undefined {
    const v = this.get(obj, name);
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) return this.at(name).fail(`must be a mapping, got ${describe(v)}`);
    return v;
  }

  array(obj: Obj | undefined, name: string): unknown[] {
    const v = this.get(obj, name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return this.at(name).fail(`must be a list, got ${describe(v)}`);
    return v;
  }

  string(obj: Obj | undefined, name: string, required = false): string | undefined {
    const v = this.get(obj, name);
    if (v === undefined || v === null || v === '') {
      if (required) this.at(name).fail('is required');
      return v === '' ? '' : undefined;
    }
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.at(name).fail(`must be a string, got ${describe(v)}`);
  }

  bool(obj: Obj | undefined, name: string): boolean | undefined {
    const v = this.get(obj, name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    return this.at(name).fail(`must be true or false, got ${describe(v)}`);
  }

  number(obj: Obj | undefined, name: string): number | undefined {
    const v = this.get(obj, name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    return this.at(name).fail(`must be a number, got ${describe(v)}`);
  }

  strings(obj: Obj | undefined, name: string): string[] {
    return this.array(obj, name).map((v, i) => {
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return this.at(name).at(i).fail(`must be a string, got ${describe(v)}`);
    });
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Dapr's truthy strings for component metadata: y, yes, true, t, on, 1 (case-insensitive). */
export function isTruthy(v: string | undefined): boolean {
  if (v === undefined) return false;
  return ['y', 'yes', 'true', 't', 'on', '1'].includes(v.trim().toLowerCase());
}
