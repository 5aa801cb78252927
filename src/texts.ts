import { PARTICLE_PAIRS, type ParticlePair, particle } from './names/josa.ts'

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
  /** Sent through the callback when the request waited in a full queue until its deadline (overload). */
  busy: '지금 문의가 많아 답변이 조금 늦어지고 있어요. 죄송해요! 잠시 후 아래 [답변 확인] 버튼을 눌러 주세요.',
  /** Sent through the callback when every attempt failed. */
  failed: '죄송해요, 지금은 답변을 드리기 어려워요. 잠시 후에 다시 말씀해 주세요.',
  /** The database or another part of kbot is down; Kakao still needs a valid bubble. */
  unavailable: '죄송해요, 잠시 문제가 생겼어요. 조금 뒤에 다시 말씀해 주세요.',
  too_long: '메시지가 조금 길어요. {{max}}자 이내로 나누어 보내 주시겠어요?',
  empty: '메시지를 입력해 주세요.',
  /** The user sent more messages than the rate-limit plugin allows; no model call was made. */
  rate_limited: '메시지가 조금 빠르게 이어지고 있어요. 잠시 후에 다시 말씀해 주시겠어요?',
  still_preparing: '아직 답변을 준비하고 있어요. 잠시 후 다시 [답변 확인]을 눌러 주세요.',
  nothing_to_check: '지금 확인할 답변이 없어요. 궁금한 점을 편하게 말씀해 주세요.',
  nothing_more: '더 보여 드릴 내용이 없어요.',
  check_label: '답변 확인',
  more_label: '자세히',
  welcome_known: '다시 찾아 주셔서 반가워요, {{name}} 님! 오늘은 무엇을 도와드릴까요?',
  welcome_new: '안녕하세요, 반가워요! 어떻게 불러 드리면 좋을까요? 이름을 알려 주세요.',
  /** `/이름` or "이름 바꿔" when no name is known yet. */
  name_ask: '어떻게 불러 드리면 좋을까요? 이름을 알려 주세요.',
  /** `/이름` or "이름 바꿔" when a name is known. */
  name_ask_change: '지금은 {{name|이라고/라고}} 불러 드리고 있어요. 새로 불러 드릴 이름을 알려 주세요.',
  /** The first name was saved. */
  name_set: '반가워요! 앞으로 {{name|이라고/라고}} 불러 드릴게요.',
  /** The name was changed; `{{old}}` is the previous one. */
  name_changed: '알겠어요! 이제부터 {{old|이/가}} 아니라 {{name|이라고/라고}} 불러 드릴게요.',
  /** The user gave the name that is already saved. */
  name_same: '이미 {{name|이라고/라고}} 불러 드리고 있어요. 앞으로도 그렇게 불러 드릴게요!',
  /** `{{reason}}` says what is wrong and states the rule (1–20 characters of 한글, 영문, 숫자, · - _). */
  name_invalid: '{{reason}} 다시 알려 주시거나, 그만두시려면 "취소"라고 말씀해 주세요.',
  /** While waiting, a reply that is not a name (a question, "배고파", "학생이야"). */
  name_retry: '이름만 알려 주시면 그렇게 불러 드릴게요. 그만두시려면 "취소"라고 말씀해 주세요.',
  name_cancelled: '알겠어요, 이름 바꾸기를 그만둘게요. 언제든 "/이름"이라고 말씀하시면 다시 정할 수 있어요.',
  /** The quick reply offered while waiting for a name; it always sends "취소". */
  name_cancel_label: '취소',
  /** "대화 기록 삭제": what will be erased, and a confirmation with two quick replies. */
  forget_confirm:
    '지금까지 나눈 대화 기록, 대화 요약, 알려 주신 이름을 모두 삭제할까요? 삭제한 기록은 되돌릴 수 없어요. 삭제하시려면 [{{confirm}}]을 눌러 주세요.',
  /** Everything kept about the user was erased. */
  forget_done: '요청하신 대로 대화 기록과 저장된 정보를 모두 삭제했어요. 언제든 다시 찾아 주세요.',
  forget_cancelled: '알겠어요, 삭제하지 않을게요. 대화 기록은 그대로 남아 있어요.',
  forget_confirm_label: '삭제할게요',
  forget_cancel_label: '취소',
} as const

export type Messages = { [K in keyof typeof DEFAULT_MESSAGES]: string }

/** Each particle by either of its forms or the pair: `이라고`, `라고` and `이라고/라고` all pick by the name. */
const PARTICLES = new Map<string, ParticlePair>(
  PARTICLE_PAIRS.flatMap((pair) => [
    [pair, pair] as const,
    ...pair.split('/').map((form) => [form, pair] as const),
  ]),
)

/**
 * Replaces `{{key}}` with values, and `{{key|이/가}}` (or `{{key|가}}`) with the value and the particle that
 * fits it. Unknown keys and unknown particles are left as they are so a typo is visible.
 *
 * @example
 *   fill('{{name|아/야}}, 안녕!', { name: '길동' }) // '길동아, 안녕!'
 */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(
    /\{\{\s*([\w.]+)\s*(?:\|\s*([^{}|]+?)\s*)?\}\}/g,
    (whole, key: string, filter: string | undefined) => {
      if (!Object.hasOwn(values, key)) return whole
      const value = String(values[key])
      if (filter === undefined) return value
      const pair = PARTICLES.get(filter)
      return pair ? particle(value, pair) : whole
    },
  )
}
