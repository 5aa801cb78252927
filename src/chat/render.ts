import type { QuickReply, SkillResponse } from '../kakao/response.ts'

/** One bot reply as `kbot chat` shows it. `via` says how it reached the user. */
export interface ChatReply {
  via: 'welcome' | 'inline' | 'callback' | 'timeout'
  texts: string[]
  quickReplies: QuickReply[]
  /** The useCallback ack's waiting text (`data.text`), shown while the callback is awaited. */
  waiting?: string
  response: SkillResponse | null
}

const str = (v: unknown) => (typeof v === 'string' ? v : '')

/** The text a Kakao bubble shows; outputs other than simpleText get a short stand-in. */
function outputText(output: Record<string, unknown>): string {
  const [type, raw] = Object.entries(output)[0] ?? ['empty', {}]
  const body = (raw ?? {}) as Record<string, unknown>
  if (type === 'simpleText') return str(body.text)
  if (type === 'simpleImage') return `[이미지] ${str(body.altText) || str(body.imageUrl)}`
  const parts = [str(body.title), str(body.description)].filter((p) => p.length > 0)
  return `[${type}]${parts.length > 0 ? ` ${parts.join(' — ')}` : ''}`
}

/** The bubbles and quick replies of a SkillResponse. */
export function replyOf(response: SkillResponse | null, via: ChatReply['via']): ChatReply {
  const outputs = (response?.template?.outputs ?? []) as Record<string, unknown>[]
  return {
    via,
    texts: outputs.map(outputText),
    quickReplies: [...(response?.template?.quickReplies ?? [])],
    response,
  }
}

/** `[1] 답변 확인  [2] 자세히`, or '' without quick replies. */
export function formatQuickReplies(quickReplies: readonly QuickReply[]): string {
  return quickReplies.map((q, i) => `[${i + 1}] ${q.label}`).join('  ')
}

/** Each bubble as `봇> …`, its further lines indented under the first. */
export function formatBubbles(texts: readonly string[]): string {
  const indent = (line: string) => (line === '' ? '' : `    ${line}`)
  return texts
    .map((text) => {
      const [first = '', ...rest] = text.split('\n')
      return [`봇> ${first}`, ...rest.map(indent)].join('\n')
    })
    .join('\n')
}

/** A reply for people: the bubbles, then the numbered quick replies. */
export function formatReply(reply: ChatReply): string {
  const lines: string[] = []
  if (reply.via === 'timeout') lines.push('(no answer arrived through the callback in time)')
  if (reply.texts.length > 0) lines.push(formatBubbles(reply.texts))
  const quick = formatQuickReplies(reply.quickReplies)
  if (quick) lines.push(quick)
  return lines.join('\n')
}

/** One line for scripts (`--json`): the raw SkillResponse rides along. */
export function replyJson(reply: ChatReply): string {
  return JSON.stringify({
    via: reply.via,
    ...(reply.waiting !== undefined ? { waiting: reply.waiting } : {}),
    texts: reply.texts,
    quickReplies: reply.quickReplies.map((q) => q.label),
    response: reply.response,
  })
}
