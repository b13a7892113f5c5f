/**
 * matrix-delayed-events: MSC4140 (cancellable delayed events) for Node.js Matrix homeservers.
 *
 * The core is framework-agnostic: a {@link DelayedEventScheduler} over a {@link DelayedEventStore},
 * a {@link RateLimiter}, a {@link MaxOutstandingGuard} and an {@link ErrorMapper}. HTTP adapters live in
 * `matrix-delayed-events/express` and `matrix-delayed-events/node`, the Redis store in
 * `matrix-delayed-events/redis`, test helpers in `matrix-delayed-events/testing`
 * (`ManualClock`) and `matrix-delayed-events/testing/conformance` (the store conformance suite, ESM-only).
 *
 * @module
 */
export { DelayedEventScheduler } from './core/delayed-event-scheduler.js';
export type { ScheduleRequest, ScheduleResult, DelayedEventsPage, PersistedStateEvent } from './core/delayed-event-scheduler.js';
export { resolveSchedulerOptions } from './core/options.js';
export type {
  DelayedEventSchedulerOptions,
  ResolvedSchedulerOptions,
  CancelOnNewerStatePolicy,
  DeliveryRateLimitPolicy,
  DeliveryRetryOptions,
} from './core/options.js';
export { RateLimiter, DEFAULT_RATE_LIMITS, RATE_LIMIT_BUCKETS } from './core/rate-limiter.js';
export type { RateLimitBucket, BucketLimit, RateLimiterOptions, ConsumeResult } from './core/rate-limiter.js';
export { MaxOutstandingGuard } from './core/max-outstanding-guard.js';
export type { MaxOutstandingGuardOptions } from './core/max-outstanding-guard.js';
export { ErrorMapper } from './core/error-mapper.js';
export type { ErrorStyle, ErrorResponse, ErrorMapperOptions } from './core/error-mapper.js';
export {
  DelayedEventsError,
  MatrixError,
  DelayedEventNotFoundError,
  MaxDelayExceededError,
  MaxOutstandingError,
  RateLimitedError,
  InvalidRequestError,
  ForbiddenError,
  StoreUnavailableError,
  ConfigError,
  isDelayedEventsError,
  asMatrixError,
} from './core/errors.js';
export type { DelayedEventsErrcode, MatrixErrorShape, ConfigErrorCode } from './core/errors.js';
export { systemClock, MAX_TIMER_DELAY_MS } from './core/clock.js';
export type { Clock, TimerHandle } from './core/clock.js';
export type {
  DelayId,
  JsonObject,
  Requester,
  DueDelayedEvent,
  SendEventFn,
  Logger,
  FinalOutcome,
  PendingDelayedEvent,
} from './core/types.js';
export { createMemoryStore } from './stores/memory/memory-store.js';
export type {
  DelayedEventStore,
  NewDelayedEvent,
  StoredDelayedEvent,
  ClaimedDelayedEvent,
  AddResult,
  AddOptions,
  MutationResult,
  ClaimOptions,
  ListCursor,
  StateKeyFilter,
  StoreCapabilities,
  RestartOutcome,
  RateLimitCharge,
  RateLimitRefusal,
  EventOutcome,
  CancelByStateKeyResult,
} from './stores/store.js';
export { createDelayedEventsHandler } from './http/handlers.js';
export type {
  AuthenticateFn,
  DelayedEventsHandler,
  DelayedEventsHandlerOptions,
  ErrorStyleOption,
  HandlerRequest,
  HandlerResponse,
  HandlerScheduler,
} from './http/handlers.js';
export { matchRoute, isDelayedEventAction, DELAY_PARAM, UNSTABLE_DELAY_PARAM } from './http/routes.js';
export type {
  DelayedEventAction,
  DelayedEventsRoute,
  ListRoute,
  ManageRoute,
  ScheduleEndpoint,
  ScheduleRoute,
  UnrecognizedRoute,
} from './http/routes.js';
export { versionsUnstableFeatures, MSC4140_UNSTABLE_FEATURE } from './http/versions.js';
