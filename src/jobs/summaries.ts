import { enqueueIdleSummaries } from '../memory/find-idle.ts'
import { defineJob } from './types.ts'

/**
 * `[memory] schedule`: finds conversations idle past the session timeout with messages not yet summarised and
 * enqueues one `summary` task per conversation. The dedupe key (conversation + newest message) makes a second
 * tick — on this or another instance — enqueue nothing for the same messages.
 */
export const summariesJob = defineJob({
  name: 'summaries',
  schedule: (config) => (config.memory.enabled ? config.memory.schedule : null),
  async run(ctx) {
    const { found, enqueued } = await enqueueIdleSummaries(
      ctx.db,
      ctx.config,
      async (t) =>
        (await ctx.queue.enqueue(
          'summary',
          { userId: t.userId, convId: t.convId },
          { userId: t.userId, convId: t.convId, dedupeKey: t.dedupeKey },
        )) !== null,
      ctx.scheduledAt,
    )
    if (enqueued > 0) ctx.log.info({ found, enqueued }, 'summary tasks enqueued')
  },
})
