import type { AppError } from '../errors.ts'

/** The JSON error body of every non-Kakao failure: `{"error": {"code", "message"}}` (+ `fields` for bad input). */
export function errorBody(code: string, message: string, fields?: Record<string, string>) {
  return { error: fields ? { code, message, fields } : { code, message } }
}

export function errorResponse(err: AppError): Response {
  return Response.json(errorBody(err.code, err.message), { status: err.status })
}

export const jsonError = (status: number, code: string, message: string): Response =>
  Response.json(errorBody(code, message), { status })
