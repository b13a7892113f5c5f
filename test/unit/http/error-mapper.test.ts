import { describe, expect, it, vi } from 'vitest';
import { ErrorMapper } from '../../../src/http/error-mapper.js';
import {
  DelayedEventNotFoundError,
  ForbiddenError,
  InvalidRequestError,
  isDelayedEventsError,
  MatrixError,
  MaxDelayExceededError,
  MaxOutstandingError,
  RateLimitedError,
  StoreUnavailableError,
} from '../../../src/core/errors.js';

const mapper = new ErrorMapper();

describe('ErrorMapper', () => {
  it('maps M_MAX_DELAY_EXCEEDED: stable with max_delay, unstable as M_UNKNOWN with the prefixed fields', () => {
    const error = new MaxDelayExceededError(86_400_000);
    expect(mapper.toResponse(error, 'stable')).toEqual({
      status: 400,
      headers: {},
      body: { errcode: 'M_MAX_DELAY_EXCEEDED', error: 'The requested delay exceeds the allowed maximum.', max_delay: 86_400_000 },
    });
    expect(mapper.toResponse(error, 'unstable')).toEqual({
      status: 400,
      headers: {},
      body: {
        errcode: 'M_UNKNOWN',
        error: 'The requested delay exceeds the allowed maximum.',
        'org.matrix.msc4140.errcode': 'M_MAX_DELAY_EXCEEDED',
        'org.matrix.msc4140.max_delay': 86_400_000,
      },
    });
  });

  it('maps M_MAX_DELAYED_EVENTS_EXCEEDED in both styles', () => {
    const error = new MaxOutstandingError(100);
    expect(mapper.toResponse(error, 'stable')).toEqual({
      status: 400,
      headers: {},
      body: { errcode: 'M_MAX_DELAYED_EVENTS_EXCEEDED', error: 'The maximum number of delayed events has been reached.' },
    });
    expect(mapper.toResponse(error, 'unstable').body).toEqual({
      errcode: 'M_UNKNOWN',
      error: 'The maximum number of delayed events has been reached.',
      'org.matrix.msc4140.errcode': 'M_MAX_DELAYED_EVENTS_EXCEEDED',
    });
  });

  it('maps M_LIMIT_EXCEEDED to 429 with Retry-After (seconds, rounded up) and retry_after_ms, in both styles', () => {
    for (const style of ['stable', 'unstable'] as const) {
      expect(mapper.toResponse(new RateLimitedError('manage', 1001), style)).toEqual({
        status: 429,
        headers: { 'Retry-After': '2' },
        body: { errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests; retry later.', retry_after_ms: 1001 },
      });
    }
    expect(mapper.toResponse(new RateLimitedError('manage', 0.2)).headers['Retry-After']).toBe('1');
  });

  it.each([
    [new DelayedEventNotFoundError(), 404, 'M_NOT_FOUND'],
    [new InvalidRequestError('M_INVALID_PARAM', 'bad'), 400, 'M_INVALID_PARAM'],
    [new InvalidRequestError('M_MISSING_PARAM', 'missing'), 400, 'M_MISSING_PARAM'],
    [new InvalidRequestError('M_NOT_JSON', 'not json'), 400, 'M_NOT_JSON'],
    [new InvalidRequestError('M_BAD_JSON', 'bad json'), 400, 'M_BAD_JSON'],
    [new InvalidRequestError('M_TOO_LARGE', 'too large'), 413, 'M_TOO_LARGE'],
    [new MatrixError(404, 'M_UNRECOGNIZED', 'Unrecognized request'), 404, 'M_UNRECOGNIZED'],
    [new MatrixError(405, 'M_UNRECOGNIZED', 'Unrecognized request'), 405, 'M_UNRECOGNIZED'],
    [new ForbiddenError('no'), 403, 'M_FORBIDDEN'],
  ])('maps %s to %i %s, identically in both styles', (error, status, errcode) => {
    const stable = mapper.toResponse(error, 'stable');
    expect(stable).toEqual({ status, headers: {}, body: { errcode, error: error.message } });
    expect(mapper.toResponse(error, 'unstable')).toEqual(stable);
  });

  it('passes through Matrix errors thrown by host code (ours, matrix-js-sdk-shaped, statusCode-shaped)', () => {
    const sdkShaped = Object.assign(new Error('Forbidden by power levels'), { httpStatus: 403, errcode: 'M_FORBIDDEN' });
    const statusCodeShaped = { statusCode: 409, errcode: 'M_CONFLICT', message: 'conflict' };
    expect(mapper.toResponse(sdkShaped)).toEqual({ status: 403, headers: {}, body: { errcode: 'M_FORBIDDEN', error: 'Forbidden by power levels' } });
    expect(mapper.toResponse(statusCodeShaped)).toEqual({ status: 409, headers: {}, body: { errcode: 'M_CONFLICT', error: 'conflict' } });
  });

  it('hides unknown errors behind a generic 500 M_UNKNOWN and logs the detail', () => {
    const logger = { error: vi.fn() };
    const secret = new Error('connection string postgres://user:password@db');
    const response = new ErrorMapper({ logger }).toResponse(secret);
    expect(response).toEqual({ status: 500, headers: {}, body: { errcode: 'M_UNKNOWN', error: 'Internal server error.' } });
    expect(JSON.stringify(response)).not.toContain('password');
    expect(logger.error).toHaveBeenCalledWith({ err: secret }, expect.any(String));
    expect(new ErrorMapper().toResponse({ status: 'weird' }).status).toBe(500);
    expect(new ErrorMapper().toResponse(undefined).status).toBe(500);
  });

  it('maps StoreUnavailableError to 503 M_UNKNOWN "storage unavailable", logging the cause', () => {
    const logger = { error: vi.fn() };
    const cause = new Error('ECONNREFUSED 127.0.0.1:6379');
    const response = new ErrorMapper({ logger }).toResponse(new StoreUnavailableError(cause));
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ errcode: 'M_UNKNOWN', error: expect.stringContaining('storage unavailable') });
    expect(logger.error).toHaveBeenCalledWith({ err: cause }, expect.any(String));
  });

  it('recognises errors of another copy of the package by their brand, not instanceof', () => {
    const foreign = new MaxDelayExceededError(5);
    Object.setPrototypeOf(foreign, Error.prototype);
    expect(foreign instanceof MaxDelayExceededError).toBe(false);
    expect(isDelayedEventsError(foreign)).toBe(true);
    expect(isDelayedEventsError(new Error('plain'))).toBe(false);
    expect(isDelayedEventsError(null)).toBe(false);
    expect(mapper.toResponse(foreign).body).toMatchObject({ errcode: 'M_MAX_DELAY_EXCEEDED', max_delay: 5 });
  });
});
