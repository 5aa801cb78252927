import type { SkillResponse } from '../kakao/response.ts'

export interface HostRule {
  scheme: 'https:' | 'http:'
  /** Lower-case host; a leading "*." matches any subdomain (not the bare domain). */
  host: string
  /** null: the scheme's default port only. */
  port: string | null
}

/** Parses CALLBACK_ALLOWED_HOSTS entries: `[scheme://]host[:port]`, https unless a scheme is named. */
export function parseHostRules(entries: readonly string[]): HostRule[] {
  return entries.map((entry) => {
    const m = /^(?:(https?):\/\/)?(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d+))?\/?$/i.exec(entry.trim())
    if (!m) throw new Error(`CALLBACK_ALLOWED_HOSTS entry is not [scheme://]host[:port]: ${entry}`)
    return {
      scheme: (m[1]?.toLowerCase() === 'http' ? 'http:' : 'https:') as HostRule['scheme'],
      host: `${m[2] ?? ''}${m[3]!.toLowerCase()}`,
      // A URL reports no port for its scheme's default, so ":443" on https (":80" on http) means "default".
      port: m[4] === undefined || m[4] === (m[1]?.toLowerCase() === 'http' ? '80' : '443') ? null : m[4],
    }
  })
}

/**
 * Whether kbot may POST to this callbackUrl. Anything else is never requested: a payload could otherwise make
 * kbot call internal addresses (server-side request forgery).
 */
export function isCallbackAllowed(url: string, rules: readonly HostRule[]): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.username || parsed.password) return false
  const host = parsed.hostname.toLowerCase()
  return rules.some((rule) => {
    if (rule.scheme !== parsed.protocol) return false
    if ((rule.port ?? '') !== parsed.port) return false
    if (rule.host.startsWith('*.'))
      return host.endsWith(rule.host.slice(1)) && host.length > rule.host.length - 1
    return host === rule.host
  })
}

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
