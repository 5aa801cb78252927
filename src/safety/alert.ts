/**
 * Telling a person. `queueSafetyAlert` runs inside the transaction that flags the conversation; `sendSafetyAlert`
 * is the queued task's work (it reads the last turns when it runs and POSTs them to the operator webhook).
 *
 * For now `queueSafetyAlert` writes the `crisis_flagged` eventlog row only: the queue with task kinds is being
 * built on another branch. The lead wires it by adding, in this one function,
 *   enqueueTask(tx, { kind: 'safety_webhook', input: alert, userId, dedupeKey: `safety:${alert.alertId}` })
 * and registering `sendSafetyAlert` as the handler of that kind (retry while the error is retryable).
 */
import type { Config } from '../config.ts'
import type { Db } from '../store/db.ts'
import { logEvent } from '../store/events.ts'
import { recentMessages } from '../store/messages.ts'
import { newId } from '../store/rows.ts'
import type { CrisisKind } from './lexicon.ts'
import { buildSafetyAlert, postSafetyWebhook, safetyHostRules } from './webhook.ts'

/** What the queued task carries: enough to build the body later, nothing the eventlog does not hold. */
export interface QueuedAlert {
  alertId: string
  source: 'lexicon' | 'moderation'
  kinds: CrisisKind[]
  evidence: { kind: string; rule: string; text: string }[]
  conversationId: string
  userId: string
  userName: string | null
  at: string
}

/** Writes `crisis_flagged` (and, once wired, enqueues the webhook). Call inside the flagging transaction. */
export async function queueSafetyAlert(
  tx: Db,
  input: Omit<QueuedAlert, 'alertId' | 'at'> & { at: Date },
): Promise<QueuedAlert> {
  const alert: QueuedAlert = { ...input, alertId: newId(), at: input.at.toISOString() }
  await logEvent(tx, 'crisis_flagged', input.userId, {
    alert_id: alert.alertId,
    source: alert.source,
    kinds: alert.kinds,
    matched: alert.evidence,
    conversation_id: alert.conversationId,
  })
  return alert
}

/**
 * The task handler: POSTs one alert to SAFETY_WEBHOOK_URL. Does nothing when no URL is configured. Throws
 * SafetyWebhookError (with `retryable`) when delivery fails, so the queue can retry.
 */
export async function sendSafetyAlert(
  deps: { db: Db; config: Config },
  alert: QueuedAlert,
  turns = 6,
): Promise<'sent' | 'no-webhook'> {
  const { safety, kakao } = deps.config
  if (!safety.webhook_url) return 'no-webhook'
  const lastTurns = await recentMessages(deps.db, alert.conversationId, turns)
  const body = buildSafetyAlert({ ...alert, at: new Date(alert.at), lastTurns })
  await postSafetyWebhook(safety.webhook_url, body, {
    timeoutMs: safety.webhook_timeout_ms,
    allowedHosts: safetyHostRules(safety.webhook_allowed_hosts, kakao.callback_allowed_hosts),
  })
  return 'sent'
}
