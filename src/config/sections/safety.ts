import * as v from 'valibot'
import { bool, hostList, int, optStr, str } from '../fields.ts'

/** One help line as the reply lists it: "자살예방상담전화 109 (24시간)". */
const line = v.strictObject({
  name: v.pipe(v.string(), v.trim(), v.minLength(1)),
  number: v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^[0-9-]{3,15}$/, 'must be a phone number such as 109 or 1577-0199'),
  ),
  hours: v.optional(v.pipe(v.string(), v.trim()), ''),
})
const lines = (fallback: v.InferOutput<typeof line>[]) =>
  v.optional(v.pipe(v.array(line), v.minLength(1)), fallback)

/** The numbers current in 2026 (the old bot still listed one retired in 2024). Change them here, not in code. */
export const DEFAULT_LINES = {
  suicide: [
    { name: '자살예방상담전화', number: '109', hours: '24시간' },
    { name: '정신건강위기상담', number: '1577-0199', hours: '24시간' },
    { name: '청소년상담', number: '1388', hours: '24시간' },
  ],
  self_harm: [
    { name: '자살예방상담전화', number: '109', hours: '24시간' },
    { name: '정신건강위기상담', number: '1577-0199', hours: '24시간' },
    { name: '청소년상담', number: '1388', hours: '24시간' },
  ],
  abuse: [
    { name: '경찰', number: '112', hours: '24시간' },
    { name: '여성긴급전화', number: '1366', hours: '24시간' },
    { name: '학교폭력 신고·상담', number: '117', hours: '24시간' },
    { name: '청소년상담', number: '1388', hours: '24시간' },
  ],
}

/**
 * The immediate replies, 존댓말 by default. `{{name}}` is the user's name (the phrase "{{name}} 님, " is left
 * out when no name is known; particles work: `{{name|아/야}}`), `{{lines}}` the help lines, one a line.
 */
export const DEFAULT_REPLIES = {
  suicide:
    '{{name}} 님, 이야기해 주셔서 고마워요. 그런 마음이 들 만큼 많이 힘드셨군요. 혼자 견디지 않으셔도 돼요. 지금 바로 이야기를 들어 줄 분들이 있어요.\n{{lines}}\n{{emergency}} 저도 여기서 계속 이야기 들을게요.',
  self_harm:
    '{{name}} 님, 말해 주셔서 고마워요. 얼마나 아프고 힘드셨을지 마음이 쓰여요. 지금 다친 곳이 있다면 먼저 돌봐 주세요. 이야기를 들어 줄 분들이 있어요.\n{{lines}}\n{{emergency}} 저도 여기서 계속 이야기 들을게요.',
  abuse:
    '{{name}} 님, 용기 내서 말해 주셔서 고마워요. 그 일은 결코 당신 탓이 아니에요. 지금 안전한 곳에 계신지가 가장 중요해요. 도움을 받을 수 있는 곳이에요.\n{{lines}}\n{{emergency}} 저도 여기서 계속 이야기 들을게요.',
}

/** `[safety]`: the crisis check (crisis-guard), its reply, the operator webhook and the moderation check. */
export const safetySection = v.optional(
  v.strictObject({
    /** [SAFETY_WEBHOOK_URL] where crisis flags are POSTed for a person; unset: eventlog and flag only. */
    webhook_url: optStr(),
    /** [SAFETY_WEBHOOK_ALLOWED_HOSTS] the webhook's own allow-list; empty: CALLBACK_ALLOWED_HOSTS applies. */
    webhook_allowed_hosts: hostList([], 'alerts.example.com'),
    webhook_timeout_ms: int(100, 60_000, 5000),
    /** [SAFETY_MODERATION] also ask the moderation endpoint about each utterance (second opinion). */
    moderation: bool(false),
    moderation_model: str('omni-moderation-latest'),
    /** The prompt the model answers with once a conversation is flagged. */
    prompt: str('safety'),
    /** Said after the lines in every reply. */
    emergency: str('위급한 상황이라면 바로 119에 전화해 주세요.'),
    lines: v.optional(
      v.strictObject({
        suicide: lines(DEFAULT_LINES.suicide),
        self_harm: lines(DEFAULT_LINES.self_harm),
        abuse: lines(DEFAULT_LINES.abuse),
      }),
      {},
    ),
    replies: v.optional(
      v.strictObject({
        suicide: str(DEFAULT_REPLIES.suicide),
        self_harm: str(DEFAULT_REPLIES.self_harm),
        abuse: str(DEFAULT_REPLIES.abuse),
      }),
      {},
    ),
  }),
  {},
)
