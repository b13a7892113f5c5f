/**
 * Framework-agnostic HTTP layer: route matching, request validation, the handlers and the
 * `/versions` helper.
 *
 * @packageDocumentation
 */
export { createDelayedEventsHandler } from './handlers.js';
export type {
  AuthenticateFn,
  DelayedEventsHandler,
  DelayedEventsHandlerOptions,
  ErrorStyleOption,
  HandlerRequest,
  HandlerResponse,
  HandlerScheduler,
} from './handlers.js';
export { matchRoute, isDelayedEventAction, DELAY_PARAM, UNSTABLE_DELAY_PARAM } from './routes.js';
export type {
  DelayedEventAction,
  DelayedEventsRoute,
  ListRoute,
  ManageRoute,
  ScheduleEndpoint,
  ScheduleRoute,
  UnrecognizedRoute,
} from './routes.js';
export { versionsUnstableFeatures, MSC4140_UNSTABLE_FEATURE } from './versions.js';
