import type { Config } from '../config.ts'
import { defineTaskHandler, final, retryable } from '../queue/types.ts'
import {
  type QueuedAlert,
  SAFETY_WEBHOOK_ATTEMPTS,
  SAFETY_WEBHOOK_KIND,
  sendSafetyAlert,
} from '../safety/alert.ts'
import { SafetyWebhookError } from '../safety/webhook.ts'
import type { Db } from '../store/db.ts'

/**
 * Tells a person about a crisis flag: POSTs the alert to SAFETY_WEBHOOK_URL (allow-listed like callbacks). A
 * slow or failing receiver is retried with backoff by the queue and never delays the user; a refused host or a
 * 4xx is final. Without a webhook URL the task completes with nothing sent (the eventlog row is the record).
 */
export function safetyWebhookHandler(deps: { db: Db; config: Config }) {
  return defineTaskHandler<QueuedAlert>({
    kind: SAFETY_WEBHOOK_KIND,
    maxAttempts: SAFETY_WEBHOOK_ATTEMPTS,
    async run(task, ctx) {
      try {
        const outcome = await sendSafetyAlert(deps, task.input)
        ctx.log.info({ alertId: task.input.alertId, outcome }, 'safety alert handled')
      } catch (err) {
        if (err instanceof SafetyWebhookError) throw err.retryable ? retryable(err) : final(err)
        throw err
      }
    },
  })
}
