// The engine's failures, by reason; the gRPC and HTTP fronts map each reason to their codes.
export class WorkflowError extends Error {
  constructor(
    readonly reason: 'notFound' | 'exists' | 'invalid' | 'notHeld' | 'running',
    message: string,
  ) {
    super(message);
  }
}
