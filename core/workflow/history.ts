// durabletask history events and the shapes the engine keeps, as plain objects in the field
// names of orchestrator_service.proto (proto-loader encodes and decodes them; wrappers are
// `{value}`, timestamps `{seconds, nanos}`). Stored as JSON in the actor state store.

export interface StringValue {
  value: string;
}

export interface Timestamp {
  seconds: string | number;
  nanos: number;
}

export interface FailureDetails {
  errorType: string;
  errorMessage: string;
  stackTrace?: StringValue | null;
  innerFailure?: FailureDetails | null;
  isNonRetriable?: boolean;
}

/** One HistoryEvent: `eventId`, `timestamp` and exactly one event-type field. */
export interface HistoryEvent {
  eventId: number;
  timestamp: Timestamp;
  [eventType: string]: unknown;
}

/** Dapr's runtime status names, with durabletask's enum numbers. */
export const STATUS = {
  RUNNING: 0,
  COMPLETED: 1,
  CONTINUED_AS_NEW: 2,
  FAILED: 3,
  CANCELED: 4,
  TERMINATED: 5,
  PENDING: 6,
  SUSPENDED: 7,
} as const;

export type RuntimeStatus = keyof typeof STATUS;

export const STATUS_BY_NUMBER: readonly RuntimeStatus[] = ['RUNNING', 'COMPLETED', 'CONTINUED_AS_NEW', 'FAILED', 'CANCELED', 'TERMINATED', 'PENDING', 'SUSPENDED'];

export function isTerminal(s: RuntimeStatus): boolean {
  return s === 'COMPLETED' || s === 'FAILED' || s === 'TERMINATED' || s === 'CANCELED';
}

export function toTimestamp(ms: number): Timestamp {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

export function fromTimestamp(t: Timestamp | null | undefined): number | undefined {
  if (!t) return undefined;
  const ms = Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1_000_000);
  return Number.isFinite(ms) ? ms : undefined;
}

export function sv(value: string | undefined | null): StringValue | null {
  return value === undefined || value === null ? null : { value };
}

/** An event with id -1 (ids are only meaningful for scheduled tasks, timers and children). */
export function event(type: string, body: Record<string, unknown>, eventId = -1, at = Date.now()): HistoryEvent {
  return { eventId, timestamp: toTimestamp(at), [type]: body };
}

/** The one event-type key of a history event. */
export function typeOf(e: HistoryEvent): string {
  for (const k of Object.keys(e)) if (k !== 'eventId' && k !== 'timestamp' && e[k] !== null && e[k] !== undefined && k !== 'eventType') return k;
  return '';
}

export function bodyOf<T = Record<string, unknown>>(e: HistoryEvent, type: string): T {
  return e[type] as T;
}
