import * as v from 'valibot'

/**
 * Kakao's SkillPayload, parsed leniently: real traffic differs from the docs (`lang` null/"kr"/"ko",
 * `clientExtra` null or {}, entity params as JSON strings or objects, extra snake_case keys, hand-made
 * payloads without intent/action/bot). Only `userRequest.utterance` and `userRequest.user.id` are required.
 *
 * Hostile input (README "Hostile input"): every string kbot stores or puts into a prompt is cleaned and
 * bounded here, so both stores see the same text. Cleaning: NUL removed (PostgreSQL text cannot hold it, no
 * person types one) and lone UTF-16 surrogates replaced (`toWellFormed`; PostgreSQL jsonb refuses "\ud800").
 * Bounds: an id, name or URL longer than its limit is not a real Kakao payload, so it gets a 400 and nothing is
 * written. The utterance has no bound here: an over-long one gets a polite reply (`max_utterance_chars`).
 */
export const LIMITS = {
  /** botUserKey, bot.id, plusfriendUserKey: Kakao's are under 100 characters. */
  id: 200,
  /** bot, block, intent and action names and ids, lang, timezone. */
  name: 200,
  /** Kakao's callbackUrl is about 150 ASCII characters; stored in a unique index (PostgreSQL: < 2704 bytes). */
  callbackUrl: 1000,
} as const

/** Text as kbot keeps it: NUL removed, lone surrogates replaced by U+FFFD. */
export const cleanText = (s: string) => {
  const wellFormed = s.isWellFormed() ? s : s.toWellFormed()
  return wellFormed.includes('\u0000') ? wellFormed.replaceAll('\u0000', '') : wellFormed
}

const bounded = (max: number, what: string) =>
  v.pipe(v.string(), v.maxLength(max, `${what} is longer than ${max} characters`), v.transform(cleanText))
const shortText = (what: string) => v.optional(v.nullable(bounded(LIMITS.name, what)))
const anyRecord = v.optional(v.nullable(v.record(v.string(), v.unknown())))
const named = (what: string) =>
  v.optional(v.nullable(v.looseObject({ id: shortText(`${what}.id`), name: shortText(`${what}.name`) })))

/** plusfriendUserKey is stored: a string longer than an id is refused; other types are ignored as before. */
const userKey = v.optional(
  v.pipe(
    v.unknown(),
    v.check(
      (k) => typeof k !== 'string' || k.length <= LIMITS.id,
      `plusfriendUserKey is longer than ${LIMITS.id} characters`,
    ),
    v.transform((k) => (typeof k === 'string' ? cleanText(k) : k)),
  ),
)

const UserSchema = v.looseObject({
  id: v.union(
    [
      v.pipe(
        v.string(),
        v.maxLength(LIMITS.id, `userRequest.user.id is longer than ${LIMITS.id} characters`),
        v.transform(cleanText),
        v.trim(),
        v.minLength(1, 'userRequest.user.id is empty'),
      ),
      v.pipe(v.number(), v.transform(String)),
    ],
    'userRequest.user.id must be a string',
  ),
  type: shortText('userRequest.user.type'),
  properties: v.optional(
    v.nullable(
      v.looseObject({
        plusfriendUserKey: userKey,
        plusfriend_user_key: userKey,
      }),
    ),
  ),
})

export const SkillPayloadSchema = v.looseObject({
  intent: named('intent'),
  userRequest: v.looseObject(
    {
      utterance: v.pipe(v.string('userRequest.utterance must be a string'), v.transform(cleanText)),
      user: UserSchema,
      callbackUrl: v.optional(
        v.nullable(
          v.pipe(
            v.string(),
            v.maxLength(LIMITS.callbackUrl, `callbackUrl is longer than ${LIMITS.callbackUrl} characters`),
            // A URL on the wire is printable ASCII (Kakao's always is); anything else is not a callback.
            v.check((url) => !/[^\x21-\x7e]/.test(url), 'callbackUrl must be printable ASCII'),
          ),
        ),
      ),
      lang: shortText('userRequest.lang'),
      timezone: shortText('userRequest.timezone'),
      params: anyRecord,
      block: named('userRequest.block'),
    },
    'userRequest must be an object',
  ),
  bot: v.optional(
    v.nullable(
      v.looseObject({
        id: v.optional(
          v.nullable(v.union([bounded(LIMITS.id, 'bot.id'), v.number()], 'bot.id must be a string')),
        ),
        name: shortText('bot.name'),
      }),
    ),
  ),
  action: v.optional(
    v.nullable(
      v.looseObject({
        id: shortText('action.id'),
        name: shortText('action.name'),
        params: anyRecord,
        detailParams: anyRecord,
        clientExtra: anyRecord,
      }),
    ),
  ),
  contexts: v.optional(v.unknown()),
  flow: v.optional(v.unknown()),
})

export type SkillPayload = v.InferOutput<typeof SkillPayloadSchema>

export type ParseResult = { ok: true; payload: SkillPayload } | { ok: false; reason: string }

export function parseSkillPayload(body: unknown): ParseResult {
  const result = v.safeParse(SkillPayloadSchema, body)
  if (result.success) return { ok: true, payload: result.output }
  const issue = result.issues[0]
  const path = v.getDotPath(issue)
  // valibot reports a missing key with its parent object's message; name the key itself instead.
  if (path && issue.input === undefined) return { ok: false, reason: `${path} is missing` }
  return { ok: false, reason: path ? `${path}: ${issue.message}` : issue.message }
}

/** `bot.id` without the trailing "!" that 2019–2021 payloads carry, so one bot is one key. */
export function botIdOf(payload: SkillPayload): string {
  const id = payload.bot?.id
  return id === undefined || id === null ? '' : withoutBang(String(id))
}

/** An id without its trailing "!"s, by a scan from the end (a `!+$` pattern is quadratic on "!!!…!x"). */
export function withoutBang(id: string): string {
  let end = id.length
  while (end > 0 && id[end - 1] === '!') end--
  return id.slice(0, end)
}

export function plusfriendUserKeyOf(payload: SkillPayload): string | null {
  const props = payload.userRequest.user.properties
  const key = props?.plusfriendUserKey ?? props?.plusfriend_user_key
  return typeof key === 'string' && key.length > 0 ? key : null
}

/**
 * Entity parameters with system entities decoded: Kakao sends `"sys_number": "{\"amount\": 1}"` as text in
 * most payloads and as an object in some.
 */
export function actionParams(payload: SkillPayload): Record<string, unknown> {
  // Keys come from the payload: built with fromEntries (own properties), never by assignment, so "__proto__"
  // stays a plain key.
  return Object.fromEntries(
    Object.entries(payload.action?.params ?? {}).map(([key, value]) => {
      if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
        try {
          return [key, JSON.parse(value)]
        } catch {
          // not JSON after all: keep the text
        }
      }
      return [key, value]
    }),
  )
}
