// Output bindings: find the binding, check the operation, run the call under the component
// outbound policy and record it as Dapr's output_binding metric.
import type { LoadedComponent } from '../block.js';
import { meta } from '../component.js';
import { DaprError } from '../errors.js';
import type { PolicyProvider } from '../policy.js';
import { timedComponentCall, type Telemetry } from '../telemetry.js';
import { BindingError, isOutputBinding, parseDirection, type Binding, type BindingInvokeResponse, type OutputBinding } from './component.js';

export interface InvokeOutcome {
  response: BindingInvokeResponse | undefined;
  /** Response metadata to send as `metadata.<k>` headers, also when the call failed. */
  metadata: Record<string, string>;
}

export class BindingsService {
  private readonly outputs = new Map<string, OutputBinding>();

  constructor(
    loaded: ReadonlyMap<string, LoadedComponent>,
    private readonly policies: PolicyProvider,
    private readonly telemetry: Telemetry,
  ) {
    for (const [name, c] of loaded) {
      const b = c.instance as Binding;
      const dir = parseDirection(meta(c.metadata, 'direction'));
      if (isOutputBinding(b) && (!dir || dir.output)) this.outputs.set(name, b);
    }
  }

  /** Throws ERR_INVOKE_OUTPUT_BINDING with Dapr's wording; `failedMetadata` receives a failed call's metadata. */
  async invoke(name: string, operation: string, data: Buffer, metadata: Record<string, string>, failedMetadata: Record<string, string>): Promise<BindingInvokeResponse | undefined> {
    const fail = (cause: string, err?: unknown): DaprError =>
      new DaprError('bindingInvoke', `error invoking output binding ${name}: ${cause}`, err ? { cause: err } : undefined);
    const binding = this.outputs.get(name);
    if (!binding) throw fail(`couldn't find output binding ${name}`);
    if (!operation) throw fail('operation field is missing from request');
    const ops = binding.operations();
    if (!ops.includes(operation)) {
      throw fail(`binding ${name} does not support operation ${operation}. supported operations:${ops.join(' ')}`);
    }
    try {
      return await timedComponentCall(this.telemetry, 'output_binding', name, operation, () =>
        this.policies.componentOutbound(name).run((signal) => binding.invoke({ operation, data, metadata }, signal)),
      );
    } catch (err) {
      if (err instanceof BindingError) Object.assign(failedMetadata, err.metadata);
      throw fail((err as Error).message, err);
    }
  }
}
