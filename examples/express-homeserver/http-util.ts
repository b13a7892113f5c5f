/**
 * EXAMPLE HOMESERVER — HTTP helpers: Matrix JSON errors, JSON body parsing, async route wrapper.
 *
 * Every failure leaves as a Matrix JSON error (`{ errcode, error }`), never an Express HTML page.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { asMatrixError, MatrixError } from 'matrix-delayed-events';

/** A JSON object. */
export type Json = Record<string, unknown>;

/** Sends a Matrix error response. */
export function sendMatrixError(res: Response, status: number, errcode: string, error: string, extra: Json = {}): void {
  if (res.headersSent) return;
  res.status(status).type('application/json').send(JSON.stringify({ errcode, error, ...extra }));
}

/** Shorthand for throwing a Matrix error from a route. */
export function fail(status: number, errcode: string, message: string): never {
  throw new MatrixError(status, errcode, message);
}

/** Wraps an async route so thrown errors reach the Express error handler. */
export function route(handler: (req: Request, res: Response) => Promise<void> | void): RequestHandler {
  return (req, res, next) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(next);
  };
}

/** Maximum accepted request body, in bytes (Synapse's default is 50 MiB; events are capped at 64 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

const BODY = Symbol('hs.body');

/**
 * Reads the raw body (any content type) up to {@link MAX_BODY_BYTES}. The parsed JSON is available
 * through {@link jsonBody}; nothing is parsed until a route asks, so an empty body is not an error for
 * routes that do not need one (join, leave).
 */
export function rawBodyReader(): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || (req as unknown as Record<symbol, unknown>)[BODY] !== undefined) {
      next();
      return;
    }
    // The delayed-events adapter (mounted first) may already have parsed a body it passed through.
    if (req.body !== undefined && !Buffer.isBuffer(req.body)) {
      (req as unknown as Record<symbol, unknown>)[BODY] = { parsed: req.body };
      next();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      req.resume();
      next(new MatrixError(413, 'M_TOO_LARGE', `Request body exceeds ${MAX_BODY_BYTES} bytes.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        req.resume();
        next(new MatrixError(413, 'M_TOO_LARGE', `Request body exceeds ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      (req as unknown as Record<symbol, unknown>)[BODY] = { raw: Buffer.concat(chunks).toString('utf8') };
      next();
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      next(err);
    });
  };
}

/**
 * The request body as a JSON object. `required: false` turns an empty body into `{}`.
 * Invalid JSON → 400 `M_NOT_JSON`; JSON that is not an object → 400 `M_BAD_JSON`.
 */
export function jsonBody(req: Request, required = true): Json {
  const holder = (req as unknown as Record<symbol, { raw?: string; parsed?: unknown } | undefined>)[BODY];
  let value: unknown;
  if (holder?.parsed !== undefined) {
    value = holder.parsed;
  } else {
    const raw = holder?.raw ?? '';
    if (raw.trim() === '') {
      if (required) fail(400, 'M_NOT_JSON', 'Content not JSON.');
      return {};
    }
    try {
      value = JSON.parse(raw);
    } catch {
      fail(400, 'M_NOT_JSON', 'Content not JSON.');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(400, 'M_BAD_JSON', 'Body must be a JSON object.');
  return value as Json;
}

/** Reads an optional string field, 400 `M_BAD_JSON` on a wrong type. */
export function optString(body: Json, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(400, 'M_BAD_JSON', `'${key}' must be a string.`);
  return v;
}

/** Reads an optional object field, 400 `M_BAD_JSON` on a wrong type. */
export function optObject(body: Json, key: string): Json | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(400, 'M_BAD_JSON', `'${key}' must be an object.`);
  return v as Json;
}

/** A path parameter as a string (Express 5 gives arrays for wildcards). */
export function param(req: Request, name: string): string {
  const v = (req.params as Record<string, string | string[] | undefined>)[name];
  if (Array.isArray(v)) return v.join('/');
  return v ?? '';
}

/** A query parameter as a single string, or undefined. */
export function queryString(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

/** Final error handler: every error becomes a Matrix JSON error; unexpected ones are logged as 500. */
export function matrixErrorHandler(log: (message: string, detail?: unknown) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const matrix = asMatrixError(err);
    if (matrix) {
      const extra: Json = {};
      const details = (err as { details?: Json }).details;
      if (details && typeof details === 'object') Object.assign(extra, details);
      sendMatrixError(res, matrix.httpStatus, matrix.errcode, matrix.message, extra);
      return;
    }
    const e = err as { type?: string; status?: number; statusCode?: number };
    if (e?.type === 'entity.too.large') return sendMatrixError(res, 413, 'M_TOO_LARGE', 'Request body too large.');
    if (e?.type === 'entity.parse.failed') return sendMatrixError(res, 400, 'M_NOT_JSON', 'Content not JSON.');
    const status = e?.status ?? e?.statusCode;
    if (err instanceof URIError || status === 400) return sendMatrixError(res, 400, 'M_INVALID_PARAM', 'Malformed request (bad URL encoding?).');
    if (typeof status === 'number' && status > 400 && status < 500) return sendMatrixError(res, status, 'M_UNKNOWN', 'Bad request.');
    log('unexpected error', err);
    sendMatrixError(res, 500, 'M_UNKNOWN', 'Internal server error.');
  };
}

/** JSON 404 `M_UNRECOGNIZED` for every unknown route (matrix-js-sdk relies on a JSON answer). */
export function unrecognized(log?: (message: string) => void): RequestHandler {
  return (req, res) => {
    log?.(`unrecognized request: ${req.method} ${req.originalUrl.split('?')[0]}`);
    sendMatrixError(res, 404, 'M_UNRECOGNIZED', 'Unrecognized request');
  };
}
