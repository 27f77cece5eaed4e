// What the bindings block needs from a binding component. One component may be an output binding
// (invoke), an input binding (read), or both; the block decides which directions run from the
// `direction` metadata and the app's OPTIONS probe.
import type { Component } from '../component.js';

export interface BindingInvokeRequest {
  operation: string;
  /** The request's `data`, re-serialized as JSON text (Dapr hands components these bytes). */
  data: Buffer;
  metadata: Record<string, string>;
}

export interface BindingInvokeResponse {
  data?: Buffer | undefined;
  metadata?: Record<string, string> | undefined;
  contentType?: string | undefined;
}

/** One event from an input binding. */
export interface BindingEvent {
  data: Buffer;
  metadata: Record<string, string>;
}

/**
 * Delivers one event to the app. Resolves with the app's response body when the app took it;
 * rejects when the app failed (the component nacks or retries where its backend can).
 */
export type BindingEventHandler = (event: BindingEvent) => Promise<Buffer>;

export interface OutputBinding {
  /** The operations `invoke` accepts (Dapr lists them in its "not supported" error). */
  operations(): readonly string[];
  invoke(req: BindingInvokeRequest, signal?: AbortSignal): Promise<BindingInvokeResponse | undefined>;
}

export interface InputBinding {
  /** Starts delivering events to `handler`; stops on close(). */
  read(handler: BindingEventHandler): Promise<void>;
}

export type Binding = Component & Partial<OutputBinding> & Partial<InputBinding>;

/** A failed invoke that still carries response metadata (the HTTP binding's status, for one). */
export class BindingError extends Error {
  override readonly name = 'BindingError';
  constructor(
    message: string,
    readonly metadata: Record<string, string>,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isOutputBinding(b: Binding): b is Component & OutputBinding {
  return typeof b.invoke === 'function' && typeof b.operations === 'function';
}

export function isInputBinding(b: Binding): b is Component & InputBinding {
  return typeof b.read === 'function';
}

/** The `direction` metadata as Dapr reads it: undefined when absent (both, input after a probe). */
export function parseDirection(value: string | undefined): { input: boolean; output: boolean } | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const parts = value.split(',').map((s) => s.trim().toLowerCase());
  return { input: parts.includes('input'), output: parts.includes('output') };
}

/** Dapr's metadata capabilities of a binding: INPUT_BINDING and/or OUTPUT_BINDING, as `direction` allows. */
export function bindingFeatures(direction: string | undefined, supports: { input: boolean; output: boolean }): string[] {
  const d = parseDirection(direction);
  const out: string[] = [];
  if (supports.input && (!d || d.input)) out.push('INPUT_BINDING');
  if (supports.output && (!d || d.output)) out.push('OUTPUT_BINDING');
  return out;
}
