// Every error a client of the Dapr API can see, named once: code, HTTP status and, for Dapr's
// newer "kit" errors, the ErrorInfo reason that goes into `details`. One code may appear under
// several kinds (ERR_DIRECT_INVOKE is 404, 403 or 500), so handlers name kinds, not codes.

// `grpc`: the gRPC status code Dapr answers on its gRPC API where it is not the one the HTTP
// status implies (see grpcCodeOf).
type Kind = { code: string; status: number; reason?: string; grpc?: number };

/** gRPC status codes used below (google.rpc.Code numbers). */
const G = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

export const KINDS = {
  // common
  malformedRequest: { code: 'ERR_MALFORMED_REQUEST', status: 400 },
  malformedRequestData: { code: 'ERR_MALFORMED_REQUEST_DATA', status: 500 },
  bodyRead: { code: 'ERR_BODY_READ', status: 400 },
  bodyTooLarge: { code: 'ERR_BODY_READ', status: 413 },
  badRequest: { code: 'ERR_BAD_REQUEST', status: 400 },
  apiUnimplemented: { code: 'ERR_API_UNIMPLEMENTED', status: 501 },
  appChannelNil: { code: 'ERR_APP_CHANNEL_NIL', status: 500 },
  internal: { code: 'ERR_INTERNAL', status: 500 },
  malformedResponse: { code: 'ERR_MALFORMED_RESPONSE', status: 500 },
  generic: { code: 'ERROR', status: 500 },

  // service invocation
  invokeNoAppId: { code: 'ERR_DIRECT_INVOKE', status: 404 },
  invokeFailed: { code: 'ERR_DIRECT_INVOKE', status: 500 },
  invokeForbidden: { code: 'ERR_DIRECT_INVOKE', status: 403 },
  invokeNotReady: { code: 'ERR_DIRECT_INVOKE', status: 500 },

  // (resiliency has no kinds of its own: as in Dapr, a fired timeout or an open breaker surfaces
  // as the API's usual error, e.g. invokeFailed 500 "... err: context deadline exceeded")

  // state
  stateStoreNotConfigured: { code: 'ERR_STATE_STORE_NOT_CONFIGURED', status: 500, reason: 'DAPR_STATE_NOT_CONFIGURED', grpc: G.FAILED_PRECONDITION },
  stateStoreNotFound: { code: 'ERR_STATE_STORE_NOT_FOUND', status: 400, reason: 'DAPR_STATE_NOT_FOUND' },
  stateIllegalKey: { code: 'ERR_MALFORMED_REQUEST', status: 400, reason: 'DAPR_STATE_ILLEGAL_KEY' },
  stateGet: { code: 'ERR_STATE_GET', status: 500 },
  stateBulkGet: { code: 'ERR_STATE_BULK_GET', status: 500 },
  stateSave: { code: 'ERR_STATE_SAVE', status: 500 },
  stateSaveEtagMismatch: { code: 'ERR_STATE_SAVE', status: 409 },
  stateSaveEtagInvalid: { code: 'ERR_STATE_SAVE', status: 400 },
  stateDelete: { code: 'ERR_STATE_DELETE', status: 500 },
  stateDeleteEtagMismatch: { code: 'ERR_STATE_DELETE', status: 409 },
  stateDeleteEtagInvalid: { code: 'ERR_STATE_DELETE', status: 400 },
  stateTransaction: { code: 'ERR_STATE_TRANSACTION', status: 500 },
  stateOperationNotSupported: { code: 'ERR_NOT_SUPPORTED_STATE_OPERATION', status: 400, grpc: G.UNIMPLEMENTED },
  stateTransactionsNotSupported: { code: 'ERR_STATE_STORE_NOT_SUPPORTED', status: 500, reason: 'DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED', grpc: G.UNIMPLEMENTED },
  stateQueryNotSupported: { code: 'ERR_STATE_STORE_NOT_SUPPORTED', status: 500, reason: 'DAPR_STATE_QUERYING_NOT_SUPPORTED', grpc: G.INTERNAL },
  stateTooManyTransactions: { code: 'ERR_STATE_STORE_TOO_MANY_TRANSACTIONS', status: 400, reason: 'DAPR_STATE_TOO_MANY_TRANSACTIONS' },
  stateQuery: { code: 'ERR_STATE_QUERY', status: 500, reason: 'DAPR_STATE_QUERY_FAILED' },

  // pub/sub
  pubsubNotConfigured: { code: 'ERR_PUBSUB_NOT_CONFIGURED', status: 400, reason: 'DAPR_PUBSUB_NOT_CONFIGURED', grpc: G.FAILED_PRECONDITION },
  pubsubEmpty: { code: 'ERR_PUBSUB_EMPTY', status: 404, reason: 'DAPR_PUBSUB_NAME_EMPTY', grpc: G.INVALID_ARGUMENT },
  pubsubNotFound: { code: 'ERR_PUBSUB_NOT_FOUND', status: 404, reason: 'DAPR_PUBSUB_NOT_FOUND', grpc: G.INVALID_ARGUMENT },
  pubsubTopicEmpty: { code: 'ERR_TOPIC_NAME_EMPTY', status: 404, reason: 'DAPR_PUBSUB_TOPIC_NAME_EMPTY', grpc: G.INVALID_ARGUMENT },
  pubsubRequestMetadata: { code: 'ERR_PUBSUB_REQUEST_METADATA', status: 400, reason: 'DAPR_PUBSUB_METADATA_DESERIALIZATION' },
  pubsubCloudEventCreation: { code: 'ERR_PUBSUB_CLOUD_EVENTS_SER', status: 500, reason: 'DAPR_PUBSUB_CLOUD_EVENT_CREATION', grpc: G.INVALID_ARGUMENT },
  pubsubMarshalEvents: { code: 'ERR_PUBSUB_EVENTS_SER', status: 400, reason: 'DAPR_PUBSUB_MARSHAL_EVENTS' },
  pubsubUnmarshalEvents: { code: 'ERR_PUBSUB_EVENTS_SER', status: 400, reason: 'DAPR_PUBSUB_UNMARSHAL_EVENTS' },
  pubsubForbidden: { code: 'ERR_PUBSUB_FORBIDDEN', status: 403, reason: 'DAPR_PUBSUB_FORBIDDEN' },
  pubsubPublishNotFound: { code: 'ERR_PUBSUB_NOT_FOUND', status: 400, reason: 'DAPR_PUBSUB_TEST_NOT_FOUND', grpc: G.NOT_FOUND },
  pubsubPublish: { code: 'ERR_PUBSUB_PUBLISH_MESSAGE', status: 500, reason: 'DAPR_PUBSUB_PUBLISH_MESSAGE' },
  publishOutbox: { code: 'ERR_PUBLISH_OUTBOX', status: 500, reason: 'DAPR_PUBSUB_OUTBOX' },

  // bindings
  bindingInvoke: { code: 'ERR_INVOKE_OUTPUT_BINDING', status: 500 },

  // secrets
  secretStoresNotConfigured: { code: 'ERR_SECRET_STORES_NOT_CONFIGURED', status: 500, grpc: G.FAILED_PRECONDITION },
  secretStoreNotFound: { code: 'ERR_SECRET_STORE_NOT_FOUND', status: 401, grpc: G.INVALID_ARGUMENT },
  secretPermissionDenied: { code: 'ERR_PERMISSION_DENIED', status: 403 },
  secretGet: { code: 'ERR_SECRET_GET', status: 500 },

  // configuration
  configurationStoreNotConfigured: { code: 'ERR_CONFIGURATION_STORE_NOT_CONFIGURED', status: 500, grpc: G.FAILED_PRECONDITION },
  configurationStoreNotFound: { code: 'ERR_CONFIGURATION_STORE_NOT_FOUND', status: 400, grpc: G.INVALID_ARGUMENT },
  configurationGet: { code: 'ERR_CONFIGURATION_GET', status: 500 },
  configurationSubscribe: { code: 'ERR_CONFIGURATION_SUBSCRIBE', status: 500 },
  configurationUnsubscribe: { code: 'ERR_CONFIGURATION_UNSUBSCRIBE', status: 500 },

  // distributed lock
  lockStoreNotConfigured: { code: 'ERR_LOCK_STORE_NOT_CONFIGURED', status: 500, grpc: G.FAILED_PRECONDITION },
  lockStoreNotFound: { code: 'ERR_LOCK_STORE_NOT_FOUND', status: 400 },
  tryLock: { code: 'ERR_TRY_LOCK', status: 500 },
  unlock: { code: 'ERR_UNLOCK', status: 500 },

  // cryptography
  cryptoProvidersNotConfigured: { code: 'ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED', status: 500 },
  cryptoProviderNotFound: { code: 'ERR_CRYPTO_PROVIDER_NOT_FOUND', status: 400 },
  cryptoKey: { code: 'ERR_CRYPTO_KEY', status: 500 },
  crypto: { code: 'ERR_CRYPTO', status: 500 },

  // jobs (scheduler kit errors: errorCode is the reason)
  schedulerEmpty: { code: 'DAPR_SCHEDULER_EMPTY', status: 400, reason: 'DAPR_SCHEDULER_EMPTY' },
  schedulerJobNameEmpty: { code: 'DAPR_SCHEDULER_JOB_NAME_EMPTY', status: 400, reason: 'DAPR_SCHEDULER_JOB_NAME_EMPTY' },
  schedulerScheduleEmpty: { code: 'DAPR_SCHEDULER_SCHEDULE_EMPTY', status: 400, reason: 'DAPR_SCHEDULER_SCHEDULE_EMPTY' },
  schedulerJobName: { code: 'DAPR_SCHEDULER_JOB_NAME', status: 400, reason: 'DAPR_SCHEDULER_JOB_NAME' },
  schedulerScheduleJobInvalid: { code: 'DAPR_SCHEDULER_SCHEDULE_JOB', status: 400, reason: 'DAPR_SCHEDULER_SCHEDULE_JOB' },
  schedulerScheduleJobExists: { code: 'DAPR_SCHEDULER_SCHEDULE_JOB', status: 409, reason: 'DAPR_SCHEDULER_SCHEDULE_JOB', grpc: G.ALREADY_EXISTS },
  schedulerScheduleJob: { code: 'DAPR_SCHEDULER_SCHEDULE_JOB', status: 500, reason: 'DAPR_SCHEDULER_SCHEDULE_JOB' },
  schedulerGetJob: { code: 'DAPR_SCHEDULER_GET_JOB', status: 500, reason: 'DAPR_SCHEDULER_GET_JOB' },
  schedulerDeleteJob: { code: 'DAPR_SCHEDULER_DELETE_JOB', status: 500, reason: 'DAPR_SCHEDULER_DELETE_JOB' },

  // conversation
  conversationNotFound: { code: 'ERR_CONVERSATION_NOT_FOUND', status: 400 },
  conversationInvalidParams: { code: 'ERR_CONVERSATION_INVALID_PARMS', status: 400 },
  conversationMissingInputs: { code: 'ERR_CONVERSATION_MISSING_INPUTS', status: 400 },
  conversationInvoke: { code: 'ERR_CONVERSATION_INVOKE', status: 500 },

  // actors
  actorTypeReserved: { code: 'ERR_ACTOR_TYPE_RESERVED', status: 403 },
  actorRuntimeNotFound: { code: 'ERR_ACTOR_RUNTIME_NOT_FOUND', status: 500 },
  actorInstanceMissing: { code: 'ERR_ACTOR_INSTANCE_MISSING', status: 400, grpc: G.INTERNAL },
  actorInvokeMethod: { code: 'ERR_ACTOR_INVOKE_METHOD', status: 500 },
  actorStackDepth: { code: 'ERR_ACTOR_STACK_DEPTH', status: 500, grpc: G.RESOURCE_EXHAUSTED },
  actorStateGet: { code: 'ERR_ACTOR_STATE_GET', status: 500 },
  actorStateTransaction: { code: 'ERR_ACTOR_STATE_TRANSACTION_SAVE', status: 500 },
  actorReminderNonHosted: { code: 'ERR_ACTOR_REMINDER_NON_HOSTED', status: 403 },
  actorReminderCreate: { code: 'ERR_ACTOR_REMINDER_CREATE', status: 500 },
  actorReminderExists: { code: 'ERR_ACTOR_REMINDER_ALREADY_EXISTS', status: 409, grpc: G.ALREADY_EXISTS },
  actorReminderGet: { code: 'ERR_ACTOR_REMINDER_GET', status: 500 },
  actorReminderNotFound: { code: 'ERR_ACTOR_REMINDER_NOT_FOUND', status: 404 },
  actorReminderDelete: { code: 'ERR_ACTOR_REMINDER_DELETE', status: 500 },
  actorTimerCreate: { code: 'ERR_ACTOR_TIMER_CREATE', status: 500 },
  actorTimerDelete: { code: 'ERR_ACTOR_TIMER_DELETE', status: 500 },

  // workflow
  workflowInstanceIdMissing: { code: 'ERR_INSTANCE_ID_PROVIDED_MISSING', status: 400 },
  workflowInstanceIdInvalid: { code: 'ERR_INSTANCE_ID_INVALID', status: 400 },
  workflowInstanceIdTooLong: { code: 'ERR_INSTANCE_ID_TOO_LONG', status: 400 },
  workflowInstanceNotFound: { code: 'ERR_INSTANCE_ID_NOT_FOUND', status: 404 },
  workflowNameMissing: { code: 'ERR_WORKFLOW_NAME_MISSING', status: 400 },
  workflowEventNameMissing: { code: 'ERR_WORKFLOW_EVENT_NAME_MISSING', status: 400 },
  workflowStart: { code: 'ERR_START_WORKFLOW', status: 500 },
  workflowGet: { code: 'ERR_GET_WORKFLOW', status: 500 },
  workflowTerminate: { code: 'ERR_TERMINATE_WORKFLOW', status: 500 },
  workflowRaiseEvent: { code: 'ERR_RAISE_EVENT_WORKFLOW', status: 500 },
  workflowPause: { code: 'ERR_PAUSE_WORKFLOW', status: 500 },
  workflowResume: { code: 'ERR_RESUME_WORKFLOW', status: 500 },
  workflowPurge: { code: 'ERR_PURGE_WORKFLOW', status: 500 },

  // health
  healthNotReady: { code: 'ERR_HEALTH_NOT_READY', status: 500 },
  healthAppIdNotMatch: { code: 'ERR_HEALTH_APPID_NOT_MATCH', status: 500 },
  outboundHealthNotReady: { code: 'ERR_OUTBOUND_HEALTH_NOT_READY', status: 500 },
} as const satisfies Record<string, Kind>;

export type ErrorKind = keyof typeof KINDS;

export interface ErrorDetails {
  /** ErrorInfo metadata for kit errors. */
  metadata?: Record<string, string>;
}

export class DaprError extends Error {
  override readonly name = 'DaprError';
  readonly details: ErrorDetails | undefined;

  constructor(readonly kind: ErrorKind, message: string, options?: ErrorOptions & ErrorDetails) {
    super(message, options);
    this.details = options?.metadata ? { metadata: options.metadata } : undefined;
  }

  get code(): string {
    return KINDS[this.kind].code;
  }

  get status(): number {
    return KINDS[this.kind].status;
  }

  /** The gRPC status code Dapr answers with on its gRPC API. */
  get grpcCode(): number {
    return grpcCodeOf(this.kind);
  }

  /** The JSON body Dapr writes: legacy `{errorCode, message}` or kit errors with `details`. */
  toBody(): Record<string, unknown> {
    const kind: Kind = KINDS[this.kind];
    const body: Record<string, unknown> = { errorCode: kind.code, message: this.message };
    if (kind.reason) {
      body.details = [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: kind.reason,
          domain: 'dapr.io',
          metadata: this.details?.metadata ?? null,
        },
      ];
    }
    return body;
  }
}

export function isDaprError(err: unknown): err is DaprError {
  return err instanceof DaprError;
}

const BY_HTTP_STATUS: Record<number, number> = { 400: G.INVALID_ARGUMENT, 401: G.UNAUTHENTICATED, 403: G.PERMISSION_DENIED, 404: G.NOT_FOUND, 409: G.ABORTED, 413: G.RESOURCE_EXHAUSTED, 501: G.UNIMPLEMENTED, 503: G.UNAVAILABLE };

/**
 * The gRPC code of a kind: Dapr's own where it is listed in KINDS (it differs from the HTTP
 * status for "not configured" (FAILED_PRECONDITION), several 404s of pub/sub
 * (INVALID_ARGUMENT), a 401 of secrets (INVALID_ARGUMENT)...), else the usual mapping of the
 * HTTP status (400 INVALID_ARGUMENT, 403 PERMISSION_DENIED, 404 NOT_FOUND, 409 ABORTED as for
 * an ETag mismatch, 5xx INTERNAL).
 */
export function grpcCodeOf(kind: ErrorKind): number {
  const k: Kind = KINDS[kind];
  return k.grpc ?? BY_HTTP_STATUS[k.status] ?? G.INTERNAL;
}
