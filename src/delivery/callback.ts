import type { SkillResponse } from '../kakao/response.ts'

export { type HostRule, isCallbackAllowed, parseHostRules } from '../util/host-rules.ts'

export interface CallbackOutcome {
  ok: boolean
  httpStatus: number | null
  /** Kakao's `status` field: SUCCESS, FAIL or ERROR. */
  kakaoStatus: string | null
  message: string | null
}

/**
 * One POST of a SkillResponse to a callbackUrl. The URL string is passed through untouched (re-encoding breaks
 * Kakao's token) and redirects are not followed. Success means HTTP 2xx and Kakao's status SUCCESS (or none).
 */
export async function postCallback(
  url: string,
  body: SkillResponse,
  timeoutMs: number,
): Promise<CallbackOutcome> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(Math.max(100, timeoutMs)),
    })
    const text = await res.text()
    let parsed: { status?: unknown; message?: unknown } = {}
    try {
      const json: unknown = JSON.parse(text)
      if (typeof json === 'object' && json !== null) parsed = json
    } catch {
      // Kakao answers JSON; anything else is judged by the HTTP status alone.
    }
    const kakaoStatus = typeof parsed.status === 'string' ? parsed.status : null
    // An empty rejection body is no reason: the caller falls back to the HTTP status.
    const message =
      typeof parsed.message === 'string' && parsed.message !== ''
        ? parsed.message.slice(0, 200)
        : res.ok
          ? null
          : text.slice(0, 200) || null
    const ok = res.status >= 200 && res.status < 300 && (kakaoStatus === null || kakaoStatus === 'SUCCESS')
    return { ok, httpStatus: res.status, kakaoStatus, message }
  } catch (err) {
    return {
      ok: false,
      httpStatus: null,
      kakaoStatus: null,
      message: `request failed: ${(err as Error).message}`,
    }
  }
}
