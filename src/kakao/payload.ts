import * as v from 'valibot'

/**
 * Kakao's SkillPayload, parsed leniently: real traffic differs from the docs (`lang` null/"kr"/"ko",
 * `clientExtra` null or {}, entity params as JSON strings or objects, extra snake_case keys, hand-made
 * payloads without intent/action/bot). Only `userRequest.utterance` and `userRequest.user.id` are required.
 */
/** PostgreSQL text cannot hold NUL (and no person types one): removed before anything is stored. */
const dropNul = (s: string) => (s.includes('\u0000') ? s.replaceAll('\u0000', '') : s)

const nullableText = v.optional(v.nullable(v.string()))
const anyRecord = v.optional(v.nullable(v.record(v.string(), v.unknown())))

const UserSchema = v.looseObject({
  id: v.union(
    [
      v.pipe(
        v.string(),
        v.transform(dropNul),
        v.trim(),
        v.minLength(1, 'userRequest.user.id is empty'),
        v.maxLength(200),
      ),
      v.pipe(v.number(), v.transform(String)),
    ],
    'userRequest.user.id must be a string',
  ),
  type: nullableText,
  properties: anyRecord,
})

export const SkillPayloadSchema = v.looseObject({
  intent: v.optional(v.nullable(v.looseObject({ id: nullableText, name: nullableText }))),
  userRequest: v.looseObject(
    {
      utterance: v.pipe(v.string('userRequest.utterance must be a string'), v.transform(dropNul)),
      user: UserSchema,
      callbackUrl: nullableText,
      lang: nullableText,
      timezone: nullableText,
      params: anyRecord,
      block: v.optional(v.nullable(v.looseObject({ id: nullableText, name: nullableText }))),
    },
    'userRequest must be an object',
  ),
  bot: v.optional(
    v.nullable(
      v.looseObject({ id: v.optional(v.nullable(v.union([v.string(), v.number()]))), name: nullableText }),
    ),
  ),
  action: v.optional(
    v.nullable(
      v.looseObject({
        id: nullableText,
        name: nullableText,
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
  const props = payload.userRequest.user.properties ?? {}
  const key = props.plusfriendUserKey ?? props.plusfriend_user_key
  return typeof key === 'string' && key.length > 0 ? key : null
}

/**
 * Entity parameters with system entities decoded: Kakao sends `"sys_number": "{\"amount\": 1}"` as text in
 * most payloads and as an object in some.
 */
export function actionParams(payload: SkillPayload): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(payload.action?.params ?? {})) {
    if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
      try {
        out[key] = JSON.parse(value)
        continue
      } catch {
        // not JSON after all: keep the text
      }
    }
    out[key] = value
  }
  return out
}
