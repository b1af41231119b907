import type { Response } from 'express';

/**
 * Error codes of the server API (docs/api.md, docs/openapi.yaml): the `error` field of every
 * error body. Part of the contract: add to them, never rename.
 */
export type ApiErrorCode =
  'api-disabled' | 'unauthorized' | 'not-found' | 'bad-request' | 'too-large' | 'member-backlogged' | 'unavailable';

/** Every error is `{"error": code, "message": text}`: the text says what to do. */
export function sendError(res: Response, status: number, error: ApiErrorCode, message: string): void {
  res.status(status).json({ error, message });
}

/** Thrown inside a handler to answer with an error; anything else thrown is a 500 (a bug). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  constructor(status: number, code: ApiErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}
