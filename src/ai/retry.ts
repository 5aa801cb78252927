import { AppError, isAppError } from '../errors.ts'
import { openaiSdk } from './sdk.ts'

export interface FailureInfo {
  retryable: boolean
  /** Server-requested wait (Retry-After), in ms. */
  retryAfterMs: number | null
  code: 'AI_TIMEOUT' | 'AI_RATE_LIMITED' | 'AI_UPSTREAM' | 'AI_REJECTED' | 'AI_NOT_CONFIGURED' | 'INTERNAL'
  reason: string
}

/** Timeouts, 429, 5xx and connection errors are worth another attempt; a 400/401/404 never is. */
export function classifyFailure(err: unknown): FailureInfo {
  if (isAppError(err, 'AI_NOT_CONFIGURED')) {
    return { retryable: false, retryAfterMs: null, code: 'AI_NOT_CONFIGURED', reason: err.message }
  }
  const OpenAI = openaiSdk()
  if (err instanceof OpenAI.APIConnectionTimeoutError || isAppError(err, 'AI_TIMEOUT')) {
    return {
      retryable: true,
      retryAfterMs: null,
      code: 'AI_TIMEOUT',
      reason: 'the model did not answer in time',
    }
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return {
      retryable: true,
      retryAfterMs: null,
      code: 'AI_UPSTREAM',
      reason: `connection error: ${err.message}`,
    }
  }
  if (err instanceof OpenAI.RateLimitError) {
    return {
      retryable: true,
      retryAfterMs: retryAfter(err.headers),
      code: 'AI_RATE_LIMITED',
      reason: 'rate limited (429)',
    }
  }
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    if (err.status >= 500 || err.status === 408 || err.status === 409) {
      return {
        retryable: true,
        retryAfterMs: retryAfter(err.headers),
        code: 'AI_UPSTREAM',
        reason: `model server error (${err.status})`,
      }
    }
    return {
      retryable: false,
      retryAfterMs: null,
      code: 'AI_REJECTED',
      reason: `model refused the request (${err.status}): ${err.message}`,
    }
  }
  if (isAppError(err, 'AI_UPSTREAM'))
    return { retryable: true, retryAfterMs: null, code: 'AI_UPSTREAM', reason: err.message }
  const message = err instanceof Error ? err.message : String(err)
  return { retryable: false, retryAfterMs: null, code: 'INTERNAL', reason: message }
}

/**
 * The error code of a stored failure reason (the `reason` of classifyFailure), for public routes: the reason
 * itself may repeat upstream text (an OpenAI 401 message carries a masked key), the code never does.
 */
export function publicErrorCode(reason: string | null): FailureInfo['code'] | null {
  if (reason === null) return null
  const prefixes: [string, FailureInfo['code']][] = [
    ['OPENAI_API_KEY', 'AI_NOT_CONFIGURED'],
    ['the model did not answer in time', 'AI_TIMEOUT'],
    ['rate limited', 'AI_RATE_LIMITED'],
    ['connection error', 'AI_UPSTREAM'],
    ['model server error', 'AI_UPSTREAM'],
    ['model refused the request', 'AI_REJECTED'],
  ]
  return prefixes.find(([prefix]) => reason.startsWith(prefix))?.[1] ?? 'INTERNAL'
}

function retryAfter(headers: Headers | undefined): number | null {
  const ms = headers?.get('retry-after-ms')
  if (ms && Number.isFinite(Number(ms))) return Number(ms)
  const s = headers?.get('retry-after')
  if (!s) return null
  if (Number.isFinite(Number(s))) return Number(s) * 1000
  const at = Date.parse(s)
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null
}

/** Exponential backoff with full jitter (250 ms, 500 ms, 1 s … capped at 8 s), or the server's Retry-After. */
export function backoffMs(attempt: number, retryAfterMs: number | null, random = Math.random): number {
  if (retryAfterMs !== null) return Math.min(Math.max(0, retryAfterMs), 30_000)
  const ceiling = Math.min(8000, 250 * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

export { AppError }
