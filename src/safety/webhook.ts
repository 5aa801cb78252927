/**
 * The operator webhook: a person on the operator's side learns of a crisis flag. Plain functions; the queue
 * runs `postSafetyWebhook` as a task (retries, never in the user's request). The body carries kbot's own user
 * id and name, never the Kakao user key: the key identifies the person across Kakao channels and is not
 * needed to find the conversation in kbot (`kbot safety list`, `GET /admin/safety`).
 */
import { type HostRule, isCallbackAllowed, parseHostRules } from '../worker/callback.ts'
import type { CrisisKind } from './lexicon.ts'

export interface SafetyAlert {
  type: 'crisis_flagged'
  /** Stable per alert: also sent as Idempotency-Key so a receiver can drop a retry it already has. */
  alert_id: string
  /** lexicon: crisis-guard's own check; moderation: the second opinion found what the lexicon missed. */
  source: 'lexicon' | 'moderation'
  kinds: CrisisKind[]
  evidence: { kind: string; rule: string; text: string }[]
  conversation_id: string
  user_id: string
  user_name: string | null
  last_turns: { role: string; content: string; at: string }[]
  flagged_at: string
}

export interface AlertInput {
  alertId: string
  source: SafetyAlert['source']
  kinds: readonly CrisisKind[]
  evidence: readonly { kind: string; rule: string; text: string }[]
  conversationId: string
  userId: string
  userName: string | null
  lastTurns: readonly { role: string; content: string; createdAt: Date }[]
  at: Date
}

/** The JSON body of one alert. */
export function buildSafetyAlert(input: AlertInput): SafetyAlert {
  return {
    type: 'crisis_flagged',
    alert_id: input.alertId,
    source: input.source,
    kinds: [...input.kinds],
    evidence: input.evidence.map(({ kind, rule, text }) => ({ kind, rule, text })),
    conversation_id: input.conversationId,
    user_id: input.userId,
    user_name: input.userName,
    last_turns: input.lastTurns.map((t) => ({
      role: t.role,
      content: t.content,
      at: t.createdAt.toISOString(),
    })),
    flagged_at: input.at.toISOString(),
  }
}

/** A failed delivery; `retryable` tells the queue whether another attempt can help. */
export class SafetyWebhookError extends Error {
  override readonly name = 'SafetyWebhookError'
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
    options: { cause?: unknown } = {},
  ) {
    super(message, options)
  }
}

/**
 * The webhook's allow-list: its own (`SAFETY_WEBHOOK_ALLOWED_HOSTS`) when set, else CALLBACK_ALLOWED_HOSTS
 * (SPEC §2). Like callbacks, a URL that matches neither is never requested.
 */
export function safetyHostRules(
  safetyHosts: readonly string[],
  callbackHosts: readonly string[],
): HostRule[] {
  return parseHostRules(safetyHosts.length > 0 ? safetyHosts : callbackHosts)
}

/**
 * One POST of an alert. Resolves on 2xx. Throws SafetyWebhookError: retryable on a network error, a timeout,
 * 429 or 5xx; final on any other status (including redirects, which are not followed) and on a URL outside
 * the allow-list, which is never requested.
 */
export async function postSafetyWebhook(
  url: string,
  body: SafetyAlert,
  opts: { timeoutMs: number; allowedHosts: readonly HostRule[] },
): Promise<void> {
  if (!isCallbackAllowed(url, opts.allowedHosts))
    throw new SafetyWebhookError('safety webhook URL is not in the allow-list; not requested', false)
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': body.alert_id },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(Math.max(100, opts.timeoutMs)),
    })
  } catch (err) {
    throw new SafetyWebhookError(`safety webhook unreachable: ${(err as Error).message}`, true, null, {
      cause: err,
    })
  }
  await res.body?.cancel().catch(() => {})
  if (res.ok) return
  const retryable = res.status === 429 || res.status >= 500
  throw new SafetyWebhookError(`safety webhook answered HTTP ${res.status}`, retryable, res.status)
}
