// What the app says about the actors it hosts (`GET /dapr/config`), with Dapr's defaults:
// idle timeout 60m, drain timeout 2s, drain on, reentrancy off with maxStackDepth 32.
// Durations are Go duration strings; an invalid one falls back to the default with a warning.
import type { Logger } from '../component.js';
import { parseGoDuration } from '../../resources/duration.js';

export interface ReentrancyConfig {
  enabled: boolean;
  maxStackDepth: number;
}

export interface TypeConfig {
  idleTimeoutMs: number;
  drainOngoingCallTimeoutMs: number;
  drainRebalancedActors: boolean;
  reentrancy: ReentrancyConfig;
}

export interface HostedActors {
  /** Hosted types, in the app's order. */
  types: string[];
  /** Per-type settings (entitiesConfig over the top-level ones). */
  byType: Map<string, TypeConfig>;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 2_000;
export const DEFAULT_MAX_STACK_DEPTH = 32;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the app's answer; anything unusable yields no hosted types. */
export function parseActorConfig(body: unknown, logger: Logger): HostedActors {
  if (!isObj(body)) return { types: [], byType: new Map() };
  const types = Array.isArray(body.entities) ? body.entities.filter((e): e is string => typeof e === 'string' && e !== '') : [];
  const base = typeConfig(body, undefined, logger);
  const byType = new Map<string, TypeConfig>(types.map((t) => [t, base]));
  if (Array.isArray(body.entitiesConfig)) {
    for (const entry of body.entitiesConfig) {
      if (!isObj(entry) || !Array.isArray(entry.entities)) continue;
      const cfg = typeConfig(entry, base, logger);
      for (const t of entry.entities) {
        if (typeof t !== 'string') continue;
        if (!byType.has(t)) {
          logger.warn(`actors: entitiesConfig names type ${t}, which is not listed in entities; ignored`);
          continue;
        }
        byType.set(t, cfg);
      }
    }
  }
  return { types, byType };
}

function typeConfig(o: Obj, parent: TypeConfig | undefined, logger: Logger): TypeConfig {
  const re = isObj(o.reentrancy) ? o.reentrancy : undefined;
  const depth = re && typeof re.maxStackDepth === 'number' && re.maxStackDepth > 0 ? Math.floor(re.maxStackDepth) : undefined;
  return {
    idleTimeoutMs: duration(o.actorIdleTimeout, parent?.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 'actorIdleTimeout', logger),
    drainOngoingCallTimeoutMs: duration(o.drainOngoingCallTimeout, parent?.drainOngoingCallTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS, 'drainOngoingCallTimeout', logger),
    drainRebalancedActors: typeof o.drainRebalancedActors === 'boolean' ? o.drainRebalancedActors : (parent?.drainRebalancedActors ?? true),
    reentrancy: re
      ? { enabled: re.enabled === true, maxStackDepth: depth ?? DEFAULT_MAX_STACK_DEPTH }
      : (parent?.reentrancy ?? { enabled: false, maxStackDepth: DEFAULT_MAX_STACK_DEPTH }),
  };
}

function duration(v: unknown, fallback: number, field: string, logger: Logger): number {
  if (v === undefined || v === null || v === '') return fallback;
  const ms = typeof v === 'string' ? parseGoDuration(v) : undefined;
  if (ms === undefined || ms <= 0) {
    logger.warn(`actors: invalid ${field} ${JSON.stringify(v)} in /dapr/config; using ${fallback}ms`);
    return fallback;
  }
  return ms;
}
