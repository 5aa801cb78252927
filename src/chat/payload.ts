import { createHash } from 'node:crypto'
import { hostname, userInfo } from 'node:os'

/** Who `kbot chat` speaks as: the bot the payloads name and the Kakao user id. */
export interface ChatIdentity {
  botId: string
  userId: string
}

export interface PayloadOptions {
  /** A single-use URL on the local callback receiver; absent to exercise the inline path. */
  callbackUrl?: string | null
  /** What Kakao sends as `action.clientExtra` when a quick reply with `extra` was pressed. */
  clientExtra?: Record<string, unknown>
}

/**
 * A stable user id without writing anything to disk: the same person on the same machine is the same kbot
 * user from one `kbot chat` to the next (so kbot remembers their name), and two people on one machine differ.
 */
export function defaultChatUserId(): string {
  let who = 'someone'
  try {
    who = userInfo().username
  } catch {
    // No passwd entry (some containers): one shared id per machine is still stable.
  }
  return `kbot-chat-${createHash('sha256').update(`${who}@${hostname()}`).digest('hex').slice(0, 16)}`
}

/**
 * A SkillPayload shaped like the ones Kakao really sends (tests/fixtures/kakao/req-04): bot, intent, action,
 * userRequest with a `botUserKey` user and its properties, block, lang and timezone.
 */
export function buildSkillPayload(id: ChatIdentity, utterance: string, options: PayloadOptions = {}) {
  const block = { id: 'kbot-chat-fallback', name: '폴백 블록' }
  return {
    bot: { id: id.botId, name: 'kbot chat' },
    intent: { id: block.id, name: block.name, extra: { reason: { code: 1, message: 'OK' } } },
    action: {
      id: 'kbot-chat-skill',
      name: 'kbot',
      params: {},
      detailParams: {},
      clientExtra: options.clientExtra ?? {},
    },
    userRequest: {
      block,
      user: {
        id: id.userId,
        type: 'botUserKey',
        properties: { botUserKey: id.userId, bot_user_key: id.userId, isFriend: true },
      },
      utterance,
      params: { surface: 'Kakaotalk.plusfriend' },
      ...(options.callbackUrl ? { callbackUrl: options.callbackUrl } : {}),
      lang: 'ko',
      timezone: 'Asia/Seoul',
    },
    contexts: [],
  }
}
