/**
 * Recognises names and name commands in Korean (and a little English) chat messages. Pure: no I/O.
 *
 * The parts: normalise.ts (cleaning, greetings, clauses), endings.ts (where a name ends: 길동 + 이라고),
 * patterns.ts (the ways people state a name), not-names.ts (what is not one), validate.ts (the name rule).
 */
import { particle } from './josa.ts'
import { compact, normalise } from './normalise.ts'
import { notANameBecause } from './not-names.ts'
import { ASK, bare, CANCEL, type Found, PATTERNS, restOf } from './patterns.ts'
import { validateName } from './validate.ts'

export { splitName } from './endings.ts'
export { normalise } from './normalise.ts'
export { NAME_MAX, NAME_RULE } from './validate.ts'
export { notANameBecause, validateName }

export type NameIntent =
  | { kind: 'none' }
  | { kind: 'ask' }
  | { kind: 'set'; name: string }
  | { kind: 'cancel' }
  | { kind: 'introduce'; name: string; explicit: boolean; rest: string; pattern: string }

// ── Reading a message ────────────────────────────────────────────────────────────────────────────────────
interface Analysis {
  intent: NameIntent
  /** The rule that matched (also when its candidate was refused). */
  pattern: string | null
  /** A refused candidate and why, for the DEBUG endpoint. */
  refused: { name: string; why: string } | null
}

function analyse(text: string, awaiting: boolean): Analysis {
  const none = (pattern: string | null = null, refused: Analysis['refused'] = null): Analysis => ({
    intent: { kind: 'none' },
    pattern,
    refused,
  })
  const t = normalise(text)
  if (t === '') return none()
  // A command is taken literally: "/이름 홍길동" sets exactly 홍길동, without reading particles off it.
  const command = /^\/(?:이름|name)(?: (.*))?$/i.exec(t)
  if (command) {
    const name = command[1]?.trim() ?? ''
    return { intent: name ? { kind: 'set', name } : { kind: 'ask' }, pattern: 'command', refused: null }
  }
  const flat = compact(t)
  if (awaiting && CANCEL.test(flat)) return { intent: { kind: 'cancel' }, pattern: 'cancel', refused: null }
  if (ASK.some((re) => re.test(flat))) return { intent: { kind: 'ask' }, pattern: 'ask', refused: null }
  const found =
    PATTERNS.reduce<Found | null>((hit, find) => hit ?? find(t), null) ?? (awaiting ? bare(t) : null)
  if (!found) return none()
  const why =
    (found.question ? '질문으로 보여요' : null) ?? found.why ?? notANameBecause(found.name, found.raw)
  if (why) return none(found.pattern, { name: found.name, why })
  const { name, explicit, pattern } = found
  return {
    intent: { kind: 'introduce', name, explicit, rest: restOf(found.rest), pattern },
    pattern,
    refused: null,
  }
}

/**
 * What a message means for the user's name.
 *
 * @example
 *   parseNameIntent('내 이름은 민수야, 오늘 날씨 어때?', { awaiting: false })
 *   // { kind: 'introduce', name: '민수', explicit: true, rest: '오늘 날씨 어때?', pattern: 'my-name-is' }
 *   parseNameIntent('나연이야', { awaiting: true }) // { kind: 'introduce', name: '나연', … 'bare-while-waiting' }
 *   parseNameIntent('난 학생이야', { awaiting: false }) // { kind: 'none' }
 */
export function parseNameIntent(text: string, opts: { awaiting: boolean }): NameIntent {
  return analyse(text, opts.awaiting).intent
}

/**
 * For `POST /test-name-extraction`: the name a message would give, and whether it is valid. The message is
 * read as an ordinary turn first (awaiting = false); when nothing matches at all, it is read again as the
 * answer to "what is your name?" (awaiting = true), so that a bare "전지현이야" is explained too. A candidate
 * refused as not being a name comes back with name null and the reason.
 */
export function explainName(text: string): {
  name: string | null
  valid: boolean
  reason: string | null
  pattern: string | null
} {
  let a = analyse(text, false)
  if (a.intent.kind === 'none' && a.pattern === null) a = analyse(text, true)
  const { intent, pattern, refused } = a
  if (intent.kind === 'introduce' || intent.kind === 'set')
    return { name: intent.name, ...validateName(intent.name), pattern }
  const reason = refused ? `${particle(refused.name, '은/는')} 이름으로 보지 않았어요: ${refused.why}.` : null
  return { name: null, valid: false, reason, pattern }
}
