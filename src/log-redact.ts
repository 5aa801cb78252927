/**
 * Scrubbing of log values that path-based redaction cannot reach: secrets and callback tokens inside strings
 * (error messages, URLs in free text) and user text below debug level. SPEC §11: secrets, authorization
 * headers and callback tokens never appear in logs; user text only at debug.
 */

const REDACTED = '[redacted]'

/** Kakao's callbackUrl ends in a single-use token (`…/callback/<token>`); query credentials are masked too. */
const PATTERNS: [RegExp, string][] = [
  [/(\/callback\/)[^\s"'<>?#]+/gi, `$1${REDACTED}`],
  [
    /([?&](?:token|access_token|api_key|apikey|key|secret|sig|signature|password)=)[^&\s"'<>#]+/gi,
    `$1${REDACTED}`,
  ],
  [/\bsk-[A-Za-z0-9_-]{6,}/g, `sk-${REDACTED}`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/(postgres(?:ql)?:\/\/[^:/\s@]+:)[^@\s]+@/gi, `$1${REDACTED}@`],
]

/** A cheap test for the anchors every pattern needs. */
const MAYBE = /callback\/|=|sk-|bearer|basic|:\/\//i

/** Fields that hold what a user wrote or was answered; shown only at debug level. */
export const USER_TEXT_KEYS = new Set([
  'utterance',
  'text',
  'content',
  'messages',
  'answer',
  'aiResponse',
  'ai_response',
  'userText',
])

export interface Scrubber {
  text(value: string): string
  /** A copy of `value` with every string scrubbed; user-text fields hidden unless `showUserText`. */
  value(value: unknown, showUserText: boolean): unknown
}

/** `secrets` are the configured values (API key, admin/metrics tokens, skill secret), replaced wherever they occur. */
export function createScrubber(secrets: readonly (string | undefined)[] = []): Scrubber {
  // Very short values would mask ordinary words; real secrets are long.
  const exact = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6)
  const text = (value: string): string => {
    if (value.length < 6) return value
    let out = value
    for (const secret of exact) if (out.includes(secret)) out = out.split(secret).join(REDACTED)
    // Most strings (messages, ids) hold none of the patterns' anchors: skip the regular expressions for them.
    if (!MAYBE.test(out)) return out
    for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement)
    return out
  }
  const walk = (value: unknown, showUserText: boolean, depth: number): unknown => {
    if (typeof value === 'string') return text(value)
    if (typeof value !== 'object' || value === null || depth > 6) return value
    // Errors go through the err serializer (which scrubs them); dates and buffers are not text.
    if (value instanceof Error || value instanceof Date || ArrayBuffer.isView(value)) return value
    if (Array.isArray(value)) return value.map((v) => walk(v, showUserText, depth + 1))
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        !showUserText && USER_TEXT_KEYS.has(k) && v != null ? REDACTED : walk(v, showUserText, depth + 1)
    }
    return out
  }
  return { text, value: (value, showUserText) => walk(value, showUserText, 0) }
}
