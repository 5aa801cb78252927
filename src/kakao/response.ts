/** Kakao SkillResponse types and builders. Every response carries `"version": "2.0"`. */

export interface QuickReply {
  label: string
  action: 'message' | 'block'
  messageText?: string
  blockId?: string
  extra?: Record<string, unknown>
}

export interface SimpleText {
  simpleText: { text: string }
}

export type Output = SimpleText | Record<string, unknown>

export interface SkillResponse {
  version: '2.0'
  template?: { outputs: Output[]; quickReplies?: QuickReply[] }
  useCallback?: boolean
  context?: { values: unknown[] }
  data?: Record<string, unknown> | null
}

/** Kakao's limits (answer_json_format). */
export const LIMITS = {
  outputs: 3,
  simpleText: 1000,
  quickReplies: 10,
  quickReplyLabel: 14,
} as const

export const quickReply = (
  label: string,
  messageText = label,
  extra?: Record<string, unknown>,
): QuickReply => ({
  label,
  action: 'message',
  messageText,
  ...(extra ? { extra } : {}),
})

/**
 * The "답변 확인" button. Kakao hands `extra` back as `action.clientExtra` when it is pressed, so the button
 * fetches the answer of the very task it was offered for, not just the newest one.
 */
export const checkReply = (label: string, taskId: string): QuickReply =>
  quickReply(label, label, { kbot_task: taskId })

/** The task id a pressed "답변 확인" button carries, if any. */
export const checkedTaskId = (clientExtra: Readonly<Record<string, unknown>>): string | null =>
  Object.hasOwn(clientExtra, 'kbot_task') && typeof clientExtra.kbot_task === 'string'
    ? clientExtra.kbot_task
    : null

export function textResponse(
  texts: string | readonly string[],
  quickReplies: readonly QuickReply[] = [],
): SkillResponse {
  const list = (typeof texts === 'string' ? [texts] : texts).filter((t) => t.length > 0)
  const response: SkillResponse = {
    version: '2.0',
    template: { outputs: list.map((text) => ({ simpleText: { text } })) },
  }
  if (quickReplies.length > 0) response.template!.quickReplies = [...quickReplies]
  return response
}

/**
 * The immediate reply when Kakao gave a callbackUrl. `template` is ignored by Kakao here and omitted;
 * `data.text` fills the waiting bubble when the block uses `{{#webhook.text}}`.
 */
export const ackResponse = (text: string): SkillResponse => ({
  version: '2.0',
  useCallback: true,
  data: { text },
})

/** Checks a SkillResponse against Kakao's limits; returns the problems (empty when valid). */
export function validateSkillResponse(body: unknown): string[] {
  const problems: string[] = []
  if (typeof body !== 'object' || body === null) return ['not a JSON object']
  const r = body as Record<string, unknown>
  if (r.version !== '2.0') problems.push('version must be "2.0"')
  const template = r.template as Record<string, unknown> | undefined
  if (!template) {
    if (r.useCallback !== true) problems.push('template is required')
    return problems
  }
  const outputs = template.outputs
  if (!Array.isArray(outputs) || outputs.length < 1 || outputs.length > LIMITS.outputs) {
    problems.push(`template.outputs must hold 1–${LIMITS.outputs} components`)
  } else {
    outputs.forEach((o, i) => {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        problems.push(`outputs[${i}] is not an object`)
        return
      }
      const text = (o as SimpleText).simpleText?.text
      if ((o as SimpleText).simpleText !== undefined) {
        if (typeof text !== 'string' || text.length === 0)
          problems.push(`outputs[${i}].simpleText.text is empty`)
        else if (text.length > LIMITS.simpleText)
          problems.push(`outputs[${i}].simpleText.text exceeds ${LIMITS.simpleText} characters`)
      }
    })
  }
  const quick = template.quickReplies
  if (quick !== undefined) {
    if (!Array.isArray(quick) || quick.length > LIMITS.quickReplies) {
      problems.push(`quickReplies must hold at most ${LIMITS.quickReplies}`)
    } else {
      quick.forEach((q, i) => {
        if (typeof q !== 'object' || q === null) {
          problems.push(`quickReplies[${i}] is not an object`)
          return
        }
        const label = (q as QuickReply).label
        if (typeof label !== 'string' || label.length === 0 || label.length > LIMITS.quickReplyLabel) {
          problems.push(`quickReplies[${i}].label must be 1–${LIMITS.quickReplyLabel} characters`)
        }
        const action = (q as QuickReply).action
        if (action !== 'message' && action !== 'block')
          problems.push(`quickReplies[${i}].action must be message or block`)
      })
    }
  }
  return problems
}
