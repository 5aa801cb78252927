import type { AiClient } from '../ai/client.ts'
import type { Config } from '../config.ts'
import { summarizeConversation } from '../memory/summarize.ts'
import type { Metrics } from '../metrics/registry.ts'
import { defineTaskHandler } from '../queue/types.ts'
import type { Db } from '../store/db.ts'

export const SUMMARY_KIND = 'summary'

export interface SummaryInput {
  userId: string
  convId: string
}

/**
 * Folds the previous summary and only the new messages of one idle conversation into `usersummary`, with the
 * cheaper `[memory] model`. Idempotent: with nothing new it makes no model call. Enqueued by the summaries job.
 */
export function summaryHandler(deps: { db: Db; ai: AiClient; config: Config; metrics?: Metrics }) {
  return defineTaskHandler<SummaryInput>({
    kind: SUMMARY_KIND,
    maxAttempts: 3,
    async run(task, ctx) {
      const outcome = await summarizeConversation(
        { db: deps.db, ai: deps.ai, config: deps.config, log: ctx.log },
        { userId: task.input.userId, convId: task.input.convId, taskId: task.id },
        ctx.signal,
      )
      ctx.log.debug({ outcome: outcome.status }, 'summary task done')
      if (outcome.status !== 'nothing-new') deps.metrics?.model(outcome.result)
      await ctx.complete(async () => ({
        aiResponse: null,
        responseMessageId: null,
        tokensUsed: outcome.status === 'nothing-new' ? null : outcome.result.totalTokens,
      }))
    },
  })
}
