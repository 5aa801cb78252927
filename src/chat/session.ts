import { randomUUID } from 'node:crypto'
import { AppError } from '../errors.ts'
import type { QuickReply, SkillResponse } from '../kakao/response.ts'
import { buildSkillPayload, type ChatIdentity } from './payload.ts'
import type { CallbackReceiver } from './receiver.ts'
import { type ChatReply, replyOf } from './render.ts'

export interface ChatSessionDeps {
  /** The kbot to talk to, e.g. http://127.0.0.1:8000 */
  baseUrl: string
  identity: ChatIdentity
  /** null: no callbackUrl is sent, so kbot answers inline (or offers 답변 확인). */
  receiver: CallbackReceiver | null
  /** Sent as X-Kbot-Skill-Secret when kbot requires it. */
  secret?: string | null
  /** How long to wait for a callback; Kakao's URL lives a minute, kbot answers within it. */
  callbackTimeoutMs?: number
  /** Called with the ack's waiting text as soon as it arrives, before the callback does. */
  onWaiting?: (text: string) => void
}

export interface ChatSession {
  /** POST /welcome, as Kakao does when a user opens the chat room. */
  welcome(): Promise<ChatReply>
  /** One typed line; a number picks that quick reply of the last reply, as tapping it would. */
  say(line: string): Promise<ChatReply>
}

/** Talks to kbot as Kakao would: real SkillPayloads, one fresh callbackUrl and X-Request-Id per message. */
export function createChatSession(deps: ChatSessionDeps): ChatSession {
  const timeoutMs = deps.callbackTimeoutMs ?? 70_000
  let offered: QuickReply[] = []

  const post = async (path: string, body: unknown): Promise<SkillResponse> => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-request-id': randomUUID(),
    }
    if (deps.secret) headers['x-kbot-skill-secret'] = deps.secret
    let res: Response
    try {
      res = await fetch(new URL(path, deps.baseUrl), { method: 'POST', headers, body: JSON.stringify(body) })
    } catch (err) {
      throw new AppError('INTERNAL', `cannot reach kbot at ${deps.baseUrl}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    const text = await res.text()
    if (!res.ok) {
      const hint = res.status === 401 ? ' (set KAKAO_SKILL_SECRET or pass --secret)' : ''
      throw new AppError('INTERNAL', `kbot answered ${path} with ${res.status}${hint}: ${text.slice(0, 200)}`)
    }
    try {
      return JSON.parse(text) as SkillResponse
    } catch (err) {
      throw new AppError('INTERNAL', `kbot answered ${path} with something that is not JSON`, { cause: err })
    }
  }

  const remember = (reply: ChatReply) => {
    offered = reply.quickReplies
    return reply
  }

  return {
    async welcome() {
      return remember(replyOf(await post('/welcome', buildSkillPayload(deps.identity, '')), 'welcome'))
    },

    async say(line) {
      const picked = /^\d+$/.test(line.trim()) ? offered[Number(line.trim()) - 1] : undefined
      // A pressed quick reply sends its messageText; Kakao hands its `extra` back as action.clientExtra.
      const utterance = picked ? (picked.messageText ?? picked.label) : line
      const callbackUrl = deps.receiver?.next() ?? null
      const response = await post(
        '/skill',
        buildSkillPayload(deps.identity, utterance, {
          callbackUrl,
          ...(picked?.extra ? { clientExtra: picked.extra } : {}),
        }),
      )
      if (!response.useCallback || !callbackUrl || !deps.receiver) {
        if (callbackUrl) deps.receiver?.discard(callbackUrl)
        return remember(replyOf(response, 'inline'))
      }
      const waiting = typeof response.data?.text === 'string' ? response.data.text : ''
      deps.onWaiting?.(waiting)
      const body = await deps.receiver.wait(callbackUrl, timeoutMs)
      return remember({ ...replyOf(body, body ? 'callback' : 'timeout'), waiting })
    },
  }
}
