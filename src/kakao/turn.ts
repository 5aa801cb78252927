import { timingSafeEqual } from 'node:crypto'
import type { Config } from '../config.ts'
import { AppError, isAppError } from '../errors.ts'
import { type Logger, lazyChild } from '../logger.ts'
import type { Pipeline } from '../pipeline/build.ts'
import type { TaskQueue, Turn } from '../pipeline/types.ts'
import { type Conversation, currentConversation, touchConversationAt } from '../store/conversations.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { findDuplicate } from '../store/tasks.ts'
import { insertUserForTurn, loadReturning } from '../store/turn-context.ts'
import { type AppUser, setNameState, upsertUser } from '../store/users.ts'
import { fill, type Messages } from '../texts.ts'
import { type HostRule, isCallbackAllowed } from '../util/host-rules.ts'
import { ContextCache, contextKey } from './context-cache.ts'
import { replyForTask } from './inline.ts'
import { botIdOf, parseSkillPayload, plusfriendUserKeyOf, type SkillPayload, withoutBang } from './payload.ts'
import { type SkillResponse, textResponse } from './response.ts'

export interface TurnDeps {
  config: Config
  db: Db
  log: Logger
  messages: Messages
  pipeline: Pipeline
  queue: TaskQueue
  callbackRules: readonly HostRule[]
  /**
   * In DEBUG mode, this server's own /test-callback is a trusted callback target: exactly
   * `<prefix>/<token>`, never another route of this server ("/test-callback/../skill").
   */
  trustedCallbackPrefix?: () => string | null
}

export interface KakaoRequest {
  body: unknown
  headers: Headers
  receivedAt: Date
}

export type KakaoResult =
  | { status: 200; body: SkillResponse }
  | { status: 400 | 401 | 403; body: { error: { code: string; message: string } } }

const refuse = (status: 400 | 401 | 403, code: string, message: string): KakaoResult => ({
  status,
  body: { error: { code, message } },
})

/** A Kakao request that passed authentication and parsing. */
type Accepted = { ok: true; payload: SkillPayload } | { ok: false; result: KakaoResult }

export interface TurnRunner {
  skill(req: KakaoRequest): Promise<KakaoResult>
  welcome(req: KakaoRequest): Promise<KakaoResult>
}

export function createTurnRunner(deps: TurnDeps): TurnRunner {
  const { config, db, messages } = deps
  // /welcome asks for a name only when name-command is there to take the answer, for as long as it waits.
  const nameOptions = deps.pipeline.optionsOf('name-command') as { await_minutes: number } | undefined
  const allowedBots = new Set(config.kakao.bot_ids.map(withoutBang))
  const contexts = new ContextCache(config.kakao.context_cache_size)

  function accept(req: KakaoRequest): Accepted {
    const secret = config.kakao.skill_secret
    if (secret && !sameSecret(req.headers.get('x-kbot-skill-secret') ?? '', secret)) {
      return { ok: false, result: refuse(401, 'UNAUTHORIZED', 'missing or wrong X-Kbot-Skill-Secret header') }
    }
    const parsed = parseSkillPayload(req.body)
    if (!parsed.ok)
      return { ok: false, result: refuse(400, 'BAD_REQUEST', `not a Kakao SkillPayload: ${parsed.reason}`) }
    if (allowedBots.size > 0 && !allowedBots.has(botIdOf(parsed.payload))) {
      return { ok: false, result: refuse(403, 'FORBIDDEN', 'this bot.id is not served here (KAKAO_BOT_IDS)') }
    }
    return { ok: true, payload: parsed.payload }
  }

  const userKeyOf = (payload: SkillPayload) => ({
    botId: botIdOf(payload),
    kakaoUserId: payload.userRequest.user.id,
    plusfriendUserKey: plusfriendUserKeyOf(payload),
  })

  /** The user of a request, created (and logged as `user_created`) on their first message. */
  async function identify(payload: SkillPayload, at: Date): Promise<AppUser> {
    return (await upsertUser(db, userKeyOf(payload), at)).user
  }

  /**
   * The user, their open conversation and whether the request may be a duplicate. A returning user this
   * instance remembers costs nothing here (the enqueue statement checks the remembered state and the duplicate
   * keys as it writes); one it does not costs one read (loadReturning) and no write; a new user, a changed
   * plusfriendUserKey or an expired session take the slower path (created, and the conversation opened, by the
   * caller).
   */
  async function context(
    payload: SkillPayload,
    at: Date,
    requestId: string | null,
    callbackUrl: string | null,
    /** The context cache's key, or null to read (a stale retry). */
    cacheKey: string | null,
  ): Promise<{
    user: AppUser
    conversation: Conversation | null
    maybeDuplicate: boolean
    cachedContext?: { cutoff: Date }
  }> {
    const key = { botId: botIdOf(payload), kakaoUserId: payload.userRequest.user.id }
    const cutoff = new Date(at.getTime() - config.session_timeout_minutes * 60_000)
    const plusfriendUserKey = plusfriendUserKeyOf(payload)
    const cached = cacheKey === null ? null : contexts.get(cacheKey, cutoff, plusfriendUserKey)
    if (cached) return { ...cached, maybeDuplicate: false, cachedContext: { cutoff } }
    const found = await loadReturning(db, key, cutoff, { requestId, callbackUrl })
    if (found && (!plusfriendUserKey || plusfriendUserKey === found.user.plusfriendUserKey)) return found
    // Not found (or found with another plusfriendUserKey): write the user without reading it again. A user
    // created just now has no conversation to end or touch, and no task yet; one found already said whether
    // the request may be a repeat.
    const { user, conversation } = await insertUserForTurn(db, userKeyOf(payload), at)
    return { user, conversation, maybeDuplicate: found?.maybeDuplicate ?? false }
  }

  /** Runs `work` within the turn budget; a database outage or a slow turn still gets a valid bubble. */
  async function guarded(
    log: Logger,
    work: (answered: AbortSignal) => Promise<SkillResponse>,
  ): Promise<KakaoResult> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const answered = new AbortController()
    try {
      const budget = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          answered.abort()
          reject(new AppError('INTERNAL', 'turn exceeded its time budget'))
        }, config.kakao.turn_budget_ms)
      })
      const working = work(answered.signal)
      // The turn may still finish after its budget; its outcome is then no one's to handle (ai-dispatch checks
      // turn.answered before committing, so nothing is queued for a request that already got the apology).
      working.catch(() => {})
      return { status: 200, body: await Promise.race([working, budget]) }
    } catch (err) {
      if (isAppError(err, 'DB_UNAVAILABLE'))
        log.warn({ err }, 'database unavailable: answered with an apology')
      else log.error({ err }, 'turn failed: answered with an apology')
      return { status: 200, body: textResponse(messages.unavailable) }
    } finally {
      clearTimeout(timer)
    }
  }

  function callbackOf(payload: SkillPayload, log: Logger): { url: string | null; refused: boolean } {
    const url = payload.userRequest.callbackUrl
    if (!url) return { url: null, refused: false }
    const trusted = deps.trustedCallbackPrefix?.()
    if (isCallbackAllowed(url, deps.callbackRules) || (trusted && isTestCallback(url, trusted)))
      return { url, refused: false }
    // Never requested. The turn continues without a callback (inline answer or "답변 확인").
    log.warn(
      { host: safeHost(url) },
      'callbackUrl host is not in CALLBACK_ALLOWED_HOSTS; it will not be used',
    )
    return { url: null, refused: true }
  }

  return {
    async skill(req) {
      const accepted = accept(req)
      if (!accepted.ok) return accepted.result
      const { payload } = accepted
      const requestId = req.headers.get('x-request-id')?.slice(0, 200) || null
      // Every turn's lines share a reqId: Kakao's X-Request-Id when it sends one, else a fresh id (also the turn id).
      const turnId = requestId ?? Bun.randomUUIDv7()
      const log = lazyChild(deps.log, { reqId: turnId })
      const utterance = payload.userRequest.utterance.trim()
      // The whole request at debug (Open Builder setup problems); the logger masks secrets and the callback token.
      if (log.isLevelEnabled('debug'))
        log.debug(
          {
            headers: Object.fromEntries(req.headers),
            callbackUrl: payload.userRequest.callbackUrl,
            utterance,
          },
          'skill request',
        )
      if (utterance.length === 0) return { status: 200, body: textResponse(messages.empty) }
      if (utterance.length > config.kakao.max_utterance_chars) {
        return {
          status: 200,
          body: textResponse(fill(messages.too_long, { max: config.kakao.max_utterance_chars })),
        }
      }
      const until = req.receivedAt.getTime() + config.kakao.inline_wait_ms
      const cacheKey = contextKey(botIdOf(payload), payload.userRequest.user.id)
      return guarded(log, async (answered) => {
        const callback = callbackOf(payload, log)
        const decide = async (fresh: boolean): Promise<SkillResponse> => {
          const {
            user,
            conversation: open,
            maybeDuplicate,
            cachedContext,
          } = await context(payload, req.receivedAt, requestId, callback.url, fresh ? null : cacheKey)
          // The same request delivered again (same X-Request-Id, or the same single-use callbackUrl) creates
          // nothing new. Only the same user's task counts: another user's id must never reveal their answer.
          if (maybeDuplicate) {
            const existing = await findDuplicate(db, { requestId, callbackUrl: callback.url })
            if (existing?.userId === user.id) {
              log.info({ taskId: existing.id }, 'duplicate delivery of a request: no second task')
              return replyForTask(existing, { db, queue: deps.queue, messages, until })
            }
          }
          if (callback.refused && !fresh)
            await logEvent(db, 'callback_refused', user.id, {
              host: safeHost(payload.userRequest.callbackUrl!),
            })
          const conversation =
            open ??
            (await currentConversation(db, user.id, config.session_timeout_minutes, req.receivedAt))
              .conversation
          const turn: Turn = {
            id: turnId,
            requestId,
            receivedAt: req.receivedAt,
            respondBy: new Date(req.receivedAt.getTime() + config.kakao.turn_budget_ms),
            answered,
            payload,
            utterance,
            callbackUrl: callback.url,
            clientExtra: payload.action?.clientExtra ?? {},
            user,
            conversation,
            prompt: null,
            history: [],
            vars: {},
            reply: null,
            log: lazyChild(log, { userId: user.id }),
            ...(cachedContext ? { cachedContext } : {}),
          }
          turn.log.debug({ utterance }, 'turn')
          await deps.pipeline.run(turn)
          // ai-dispatch's statement touched the conversation; a turn answered by another plugin touches it here.
          if (open && !turn.conversationTouched) await touchConversationAt(db, open.id, req.receivedAt)
          if (!turn.reply)
            throw new AppError(
              'PIPELINE_INVALID',
              'the pipeline ended without a reply (is ai-dispatch last?)',
            )
          // Remember the state ai-dispatch's statement wrote on (checked there); any other ending forgets it.
          if (turn.conversationTouched && !turn.rateLimited) {
            const activity = Math.max(turn.conversation.lastActivityAt.getTime(), req.receivedAt.getTime())
            contexts.set(cacheKey, {
              user: turn.user,
              conversation: { ...turn.conversation, lastActivityAt: new Date(activity) },
            })
          } else contexts.delete(cacheKey)
          return turn.reply
        }
        try {
          return await decide(false)
        } catch (err) {
          contexts.delete(cacheKey)
          if (!isAppError(err, 'STALE_CONTEXT')) throw err
          // Another instance (or the CLI) changed the user or the conversation: decide again on a fresh read.
          log.debug('remembered context is stale: the turn runs again on a fresh read')
          return await decide(true)
        }
      })
    },

    async welcome(req) {
      const accepted = accept(req)
      if (!accepted.ok) return accepted.result
      const { payload } = accepted
      const log = deps.log.child({
        reqId: req.headers.get('x-request-id')?.slice(0, 200) || Bun.randomUUIDv7(),
        route: 'welcome',
      })
      return guarded(log, async () => {
        const user = await identify(payload, req.receivedAt)
        contexts.delete(contextKey(user.botId, user.kakaoUserId))
        if (user.name) return textResponse(fill(messages.welcome_known, { name: user.name }))
        if (nameOptions) {
          const until = new Date(req.receivedAt.getTime() + nameOptions.await_minutes * 60_000)
          await setNameState(db, user.id, 'awaiting', until, req.receivedAt)
        }
        return textResponse(messages.welcome_new)
      })
    },
  }
}

/** The host of a refused callbackUrl, for the log and the event: bounded, whatever the payload held. */
function safeHost(url: string): string {
  try {
    return new URL(url).host.slice(0, 255)
  } catch {
    return '(unparseable)'
  }
}

/** `<prefix>/<token>` exactly: one path segment of letters, digits and "-", nothing the URL parser rewrites. */
function isTestCallback(url: string, prefix: string): boolean {
  if (!url.startsWith(`${prefix}/`)) return false
  return /^[\w-]{1,64}$/.test(url.slice(prefix.length + 1))
}

/** Constant-time comparison, so the secret cannot be guessed byte by byte from response times. */
function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(secret)
  return a.length === b.length && timingSafeEqual(a, b)
}
