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
export { resolveSchedulerOptions, SPEC_PROFILES } from './core/options.js';
export type {
  DelayedEventSchedulerOptions,
  ResolvedSchedulerOptions,
  CancelOnNewerStatePolicy,
  DeliveryRateLimitPolicy,
  DeliveryRetryOptions,
  SpecProfile,
  RetentionPolicy,
} from './core/options.js';
export { RateLimiter, DEFAULT_RATE_LIMITS, RATE_LIMIT_BUCKETS } from './core/rate-limiter.js';
export type { RateLimitBucket, BucketLimit, RateLimiterOptions, ConsumeResult, RateLimiterLike, RateLimitBackend } from './core/rate-limiter.js';
export { MaxOutstandingGuard, DEFAULT_MAX_OUTSTANDING_PER_USER } from './core/max-outstanding-guard.js';
export type { MaxOutstandingGuardOptions } from './core/max-outstanding-guard.js';
export { ErrorMapper } from './http/error-mapper.js';
export type { ErrorStyle, ErrorResponse, ErrorMapperOptions } from './http/error-mapper.js';
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
  isDelayedEventsError,
  asMatrixError,
} from './core/errors.js';
export type { DelayedEventsErrcode, MatrixErrorShape } from './core/errors.js';
export { ConfigError, isConfigError } from './core/config-error.js';
export type { ConfigErrorCode } from './core/config-error.js';
export { consoleLogger, logId } from './core/logging.js';
export type { SchedulerMetrics, MetricsOperation, MetricsSource } from './core/metrics.js';
export type { ConsoleLike } from './core/logging.js';
export { systemClock, MAX_TIMER_DELAY_MS } from './core/clock.js';
export type { Clock, TimerHandle } from './core/clock.js';
export type {
  DelayId,
  JsonObject,
  Requester,
  DueDelayedEvent,
  SendEventFn,
  Logger,
  LogFn,
  FinalOutcome,
  PendingDelayedEvent,
  ScheduleRequest,
  ScheduleResult,
  DelayedEventsPage,
  PersistedStateEvent,
  DelayedEventDetails,
  SchedulerHealth,
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
  EventOutcome,
  CancelByStateKeyResult,
  FinalisedDelayedEvent,
  FinalisedError,
  FinalisedOutcome,
  RetentionOptions,
  StoreStats,
} from './core/store.js';
export { encodeCursor, decodeCursor } from './http/cursor.js';
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
export { matchRoute, isDelayedEventAction, DELAY_PARAM, UNSTABLE_DELAY_PARAM, ROUTES_2024 } from './http/routes.js';
export type {
  DelayedEventAction,
  DelayedEventsRoute,
  ListRoute,
  LookupRoute,
  RouteSet,
  ManageRoute,
  ScheduleEndpoint,
  ScheduleRoute,
  UnrecognizedRoute,
} from './http/routes.js';
export { versionsUnstableFeatures, MSC4140_UNSTABLE_FEATURE } from './http/versions.js';
export { delayedEventsCapabilities, DELAYED_EVENTS_CAPABILITY, UNSTABLE_DELAYED_EVENTS_CAPABILITY } from './http/capabilities.js';
export type { DelayedEventsLimits } from './http/capabilities.js';
export { delayIdUnsigned, UNSIGNED_DELAY_ID_KEYS } from './http/unsigned.js';
