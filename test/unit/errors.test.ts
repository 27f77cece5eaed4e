// The error table in core/errors.ts and the documented one in docs/errors.md agree, both ways.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DaprError, KINDS } from '../../core/errors.js';
import { ROOT } from '../helpers/processes.js';

function documented(): Map<string, { code: string; status: number; reason?: string }> {
  const text = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, { code: string; status: number; reason?: string }>();
  for (const m of text.matchAll(/^\| `(\w+)` \| `([A-Z_]+)` \| (\d{3}) \| (?:`([A-Z_]+)`)? \|$/gm)) {
    rows.set(m[1]!, { code: m[2]!, status: Number(m[3]), ...(m[4] ? { reason: m[4] } : {}) });
  }
  return rows;
}

describe('error kinds', () => {
  it('documents every kind with its code, status and reason, and nothing else', () => {
    const docs = documented();
    expect(docs.size).toBeGreaterThan(50);
    for (const [kind, v] of Object.entries(KINDS)) expect(docs.get(kind), kind).toEqual({ code: v.code, status: v.status, ...('reason' in v ? { reason: v.reason } : {}) });
    for (const kind of docs.keys()) expect(kind in KINDS, `${kind} is documented but not in core/errors.ts`).toBe(true);
  });

  it('renders legacy errors without details and kit errors with ErrorInfo', () => {
    expect(new DaprError('secretStoreNotFound', 'failed finding secret store with key x').toBody()).toEqual({
      errorCode: 'ERR_SECRET_STORE_NOT_FOUND',
      message: 'failed finding secret store with key x',
    });
    expect(new DaprError('stateStoreNotFound', 'state store s is not found', { metadata: { appID: 'a' } }).toBody()).toEqual({
      errorCode: 'ERR_STATE_STORE_NOT_FOUND',
      message: 'state store s is not found',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'DAPR_STATE_NOT_FOUND', domain: 'dapr.io', metadata: { appID: 'a' } }],
    });
  });
});
