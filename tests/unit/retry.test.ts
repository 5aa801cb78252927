import { describe, expect, test } from 'bun:test'
import OpenAI from 'openai'
import { backoffMs, classifyFailure } from '../../src/ai/retry.ts'
import { estimateTokens } from '../../src/ai/tokens.ts'
import { AppError } from '../../src/errors.ts'

const headers = (h: Record<string, string> = {}) => new Headers(h)
/** The `error` object of OpenAI's error body, as the SDK hands it to the error constructors. */
const body = (message: string) => ({ message, type: 'test' })
/** The whole wire body, as `APIError.generate` receives it. */
const wire = (message: string) => ({ error: body(message) })

describe('classifyFailure', () => {
  test.each([
    ['the SDK timeout', new OpenAI.APIConnectionTimeoutError(), 'AI_TIMEOUT'],
    ['AppError AI_TIMEOUT', new AppError('AI_TIMEOUT', 'deadline'), 'AI_TIMEOUT'],
    ['a connection error', new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }), 'AI_UPSTREAM'],
    ['429', new OpenAI.RateLimitError(429, body('slow down'), 'slow down', headers()), 'AI_RATE_LIMITED'],
    ['500', new OpenAI.InternalServerError(500, body('oops'), 'oops', headers()), 'AI_UPSTREAM'],
    ['502', new OpenAI.InternalServerError(502, undefined, undefined, headers()), 'AI_UPSTREAM'],
    ['503 (generated)', OpenAI.APIError.generate(503, wire('busy'), 'busy', headers()), 'AI_UPSTREAM'],
    ['408', OpenAI.APIError.generate(408, wire('timeout'), 'timeout', headers()), 'AI_UPSTREAM'],
    ['409', new OpenAI.ConflictError(409, body('conflict'), 'conflict', headers()), 'AI_UPSTREAM'],
    ['AppError AI_UPSTREAM', new AppError('AI_UPSTREAM', 'empty answer'), 'AI_UPSTREAM'],
  ])('%s is retryable (%s)', (_, err, code) => {
    const info = classifyFailure(err)
    expect(info.retryable).toBe(true)
    expect(info.code).toBe(code as never)
    expect(info.reason.length).toBeGreaterThan(0)
  })

  test.each([
    ['400', new OpenAI.BadRequestError(400, body('bad'), 'bad', headers()), 'AI_REJECTED'],
    ['401', new OpenAI.AuthenticationError(401, body('key'), 'Incorrect API key', headers()), 'AI_REJECTED'],
    ['403', new OpenAI.PermissionDeniedError(403, body('no'), 'no', headers()), 'AI_REJECTED'],
    ['404', new OpenAI.NotFoundError(404, body('model'), 'model not found', headers()), 'AI_REJECTED'],
    ['422', new OpenAI.UnprocessableEntityError(422, body('x'), 'x', headers()), 'AI_REJECTED'],
    [
      'AppError AI_NOT_CONFIGURED',
      new AppError('AI_NOT_CONFIGURED', 'set OPENAI_API_KEY'),
      'AI_NOT_CONFIGURED',
    ],
    ['the caller aborting', new OpenAI.APIUserAbortError(), 'INTERNAL'],
    ['a plain Error', new Error('bug'), 'INTERNAL'],
    ['a thrown string', 'weird', 'INTERNAL'],
  ])('%s is not retryable (%s)', (_, err, code) => {
    const info = classifyFailure(err)
    expect(info).toMatchObject({ retryable: false, retryAfterMs: null, code: code as never })
  })

  test('reasons are specific', () => {
    expect(
      classifyFailure(new OpenAI.RateLimitError(429, body('x'), 'x', headers({ 'retry-after': '2' }))),
    ).toEqual({ retryable: true, retryAfterMs: 2000, code: 'AI_RATE_LIMITED', reason: 'rate limited (429)' })
    expect(classifyFailure(new OpenAI.InternalServerError(502, undefined, undefined, headers()))).toEqual({
      retryable: true,
      retryAfterMs: null,
      code: 'AI_UPSTREAM',
      reason: 'model server error (502)',
    })
    expect(
      classifyFailure(new OpenAI.NotFoundError(404, body('model not found'), undefined, headers())).reason,
    ).toBe('model refused the request (404): 404 model not found')
    expect(classifyFailure(new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' })).reason).toBe(
      'connection error: ECONNREFUSED',
    )
    expect(classifyFailure(new AppError('AI_NOT_CONFIGURED', 'set OPENAI_API_KEY')).reason).toBe(
      'set OPENAI_API_KEY',
    )
    expect(classifyFailure('weird').reason).toBe('weird')
  })

  describe('Retry-After', () => {
    const rateLimited = (h: Record<string, string>) =>
      classifyFailure(new OpenAI.RateLimitError(429, body('x'), 'x', headers(h))).retryAfterMs

    test.each([
      [{ 'retry-after': '2' }, 2000],
      [{ 'retry-after': '0' }, 0],
      [{ 'retry-after': '1.5' }, 1500],
      [{ 'retry-after-ms': '250' }, 250],
      [{ 'retry-after-ms': '250', 'retry-after': '2' }, 250],
      [{ 'retry-after-ms': 'soon', 'retry-after': '3' }, 3000],
      [{ 'retry-after': 'soon' }, null],
      [{}, null],
    ])('%j → %p ms', (h, ms) => {
      expect(rateLimited(h)).toBe(ms)
    })

    test('an HTTP-date is converted to the time left', () => {
      const at = new Date(Date.now() + 10_000).toUTCString()
      const ms = rateLimited({ 'retry-after': at })!
      // HTTP-dates have whole seconds: between 9 and 10 s from now.
      expect(ms).toBeGreaterThan(8_000)
      expect(ms).toBeLessThanOrEqual(10_000)
    })

    test('an HTTP-date in the past means now', () => {
      expect(rateLimited({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })).toBe(0)
    })

    test('a 503 with Retry-After carries it too', () => {
      const err = new OpenAI.InternalServerError(503, undefined, undefined, headers({ 'retry-after': '5' }))
      expect(classifyFailure(err).retryAfterMs).toBe(5000)
    })
  })
})

describe('backoffMs', () => {
  const low = () => 0
  const mid = () => 0.5
  const high = () => 0.999999

  test.each([
    // attempt, ceiling: exponential from 250 ms, capped at 8 s; full jitter in [ceiling/2, ceiling]
    [1, 125, 188, 250],
    [2, 250, 375, 500],
    [3, 500, 750, 1000],
    [4, 1000, 1500, 2000],
    [5, 2000, 3000, 4000],
    [6, 4000, 6000, 8000],
    [7, 4000, 6000, 8000],
    [30, 4000, 6000, 8000],
    [2000, 4000, 6000, 8000],
  ])('attempt %i: %i / %i / %i ms', (attempt, atLow, atMid, atHigh) => {
    expect(backoffMs(attempt, null, low)).toBe(atLow)
    expect(backoffMs(attempt, null, mid)).toBe(atMid)
    expect(backoffMs(attempt, null, high)).toBe(atHigh)
  })

  test('attempt 0 is treated as the first', () => {
    expect(backoffMs(0, null, mid)).toBe(188)
  })

  test('with the real random, attempts 1..6 stay within their bounds and never exceed 8 s', () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      const ceiling = 250 * 2 ** (attempt - 1)
      for (let i = 0; i < 50; i++) {
        const ms = backoffMs(attempt, null)
        expect(ms).toBeGreaterThanOrEqual(ceiling / 2)
        expect(ms).toBeLessThanOrEqual(ceiling)
        expect(ms).toBeLessThanOrEqual(8000)
      }
    }
  })

  test.each([
    [1, 2000, 2000],
    [6, 500, 500],
    [3, 0, 0],
    [1, 30_000, 30_000],
    [1, 45_000, 30_000],
    [1, 3_600_000, 30_000],
  ])('attempt %i with Retry-After %i ms waits %i ms', (attempt, retryAfter, expected) => {
    expect(backoffMs(attempt, retryAfter, high)).toBe(expected)
  })
})

describe('estimateTokens', () => {
  test.each([
    ['', 4],
    ['a', 5],
    ['abcd', 5],
    ['abcde', 6],
    ['안녕하세요', 9],
    ['안녕 hi', 7],
    ['가'.repeat(1000), 1004],
    ['a'.repeat(1000), 254],
  ])('%j → %i', (text, tokens) => {
    expect(estimateTokens(text)).toBe(tokens)
  })

  test.each([1, 10, 100, 1000])('Hangul is one token per syllable (%i syllables)', (n) => {
    expect(estimateTokens('한'.repeat(n)) - estimateTokens('')).toBe(n)
  })

  test('Hangul costs more per character than Latin text', () => {
    expect(estimateTokens('가'.repeat(100))).toBeGreaterThan(estimateTokens('a'.repeat(100)))
  })

  test('monotonic: a longer text never costs less', () => {
    const text = '안녕하세요! Hello, world. 오늘 날씨는 맑음 ☀️ and 25°C입니다. '.repeat(5)
    let previous = estimateTokens('')
    for (let i = 1; i <= text.length; i++) {
      const now = estimateTokens(text.slice(0, i))
      expect(now).toBeGreaterThanOrEqual(previous)
      previous = now
    }
    expect(previous).toBeGreaterThan(estimateTokens(text.slice(0, 10)))
  })
})

test('a negative Retry-After never gives a negative wait', () => {
  expect(backoffMs(1, -5000, () => 0.5)).toBe(0)
})
