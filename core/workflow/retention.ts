// Configuration `spec.workflow.stateRetentionPolicy`, as Dapr reads it: Go durations per final
// status (`completed`, `failed`, `terminated`) and `anyTerminal` for the ones not given. An
// instance that reaches a final status while a duration applies to it is purged that long after.
import { isObject, type Obj } from '../../resources/decode.js';
import { parseGoDuration } from '../../resources/duration.js';
import type { RuntimeStatus } from './history.js';

export interface RetentionPolicy {
  /** Milliseconds to keep an instance that ended with `status`, or undefined: keep it until purged. */
  retainFor(status: RuntimeStatus): number | undefined;
}

const FIELDS = ['anyTerminal', 'completed', 'failed', 'terminated'] as const;

/** Undefined when the configuration sets no retention (resources/configuration.ts has checked the values). */
export function retentionPolicy(workflow: Obj): RetentionPolicy | undefined {
  const raw = workflow.stateRetentionPolicy;
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) return undefined;
  const ms: Partial<Record<(typeof FIELDS)[number], number>> = {};
  for (const f of FIELDS) {
    const v = (raw as Obj)[f];
    if (v === undefined || v === null || v === '') continue;
    const d = parseGoDuration(String(v));
    if (d !== undefined && d >= 0) ms[f] = d;
  }
  if (Object.keys(ms).length === 0) return undefined;
  return {
    retainFor: (status) => {
      const own = status === 'COMPLETED' ? ms.completed : status === 'FAILED' ? ms.failed : status === 'TERMINATED' ? ms.terminated : undefined;
      return own ?? ms.anyTerminal;
    },
  };
}
