/**
 * Every sentence a Kakao user can see, in natural, polite Korean. Operators override any of them in
 * `[messages]` of config.toml. `{{…}}` placeholders are filled by `fill()`; a name placeholder may take a
 * particle, e.g. `{{name|이라고}}` → "민수라고" / "길동이라고" (see src/names/josa.ts).
 */
export const DEFAULT_MESSAGES = {
  /** The immediate reply when Kakao gave us a callbackUrl (shown through `{{#webhook.text}}`). */
  ack: 'AI가 답변을 생성하고 있어요!',
  /** No callback and the answer was not ready within the inline budget. */
  pending: '답변을 준비하고 있어요. 잠시 후 아래 [답변 확인] 버튼을 눌러 주세요.',
  /** Sent through the callback when the answer will not be ready in time. */
  slow: '답변을 준비하는 데 시간이 조금 더 걸리고 있어요. 죄송해요! 잠시 후 아래 [답변 확인] 버튼을 눌러 주세요.',
  /** Sent through the callback when every attempt failed. */
  failed: '죄송해요, 지금은 답변을 드리기 어려워요. 잠시 후에 다시 말씀해 주세요.',
  /** The database or another part of kbot is down; Kakao still needs a valid bubble. */
  unavailable: '죄송해요, 잠시 문제가 생겼어요. 조금 뒤에 다시 말씀해 주세요.',
  too_long: '메시지가 조금 길어요. {{max}}자 이내로 나누어 보내 주시겠어요?',
  empty: '메시지를 입력해 주세요.',
  still_preparing: '아직 답변을 준비하고 있어요. 잠시 후 다시 [답변 확인]을 눌러 주세요.',
  nothing_to_check: '지금 확인할 답변이 없어요. 궁금한 점을 편하게 말씀해 주세요.',
  nothing_more: '더 보여 드릴 내용이 없어요.',
  check_label: '답변 확인',
  more_label: '자세히',
  welcome_known: '다시 찾아 주셔서 반가워요, {{name}} 님! 오늘은 무엇을 도와드릴까요?',
  welcome_new: '안녕하세요, 반가워요! 어떻게 불러 드리면 좋을까요? 이름을 알려 주세요.',
} as const

export type Messages = { [K in keyof typeof DEFAULT_MESSAGES]: string }

/** Replaces `{{key}}` with values; unknown keys are left as they are so a typo is visible. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  )
}
