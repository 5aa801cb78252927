import * as v from 'valibot'
import { estimateTokens } from '../../src/ai/tokens.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { messagesBefore, recentMessages } from '../../src/store/messages.ts'
import type { ChatMessage } from '../../src/store/tasks.ts'

/**
 * The current conversation's recent turns, newest kept first within a token budget (the oldest are dropped),
 * plus the user's long-term summary when the prompt does not already carry it through {{summary}}. The summary
 * counts against the same budget.
 *
 * Worker time only (issue 13): the history is read when a worker claims the turn's task (the messages before
 * the task's own user message); the ack does not wait for it.
 */
export default definePlugin({
  name: 'history-context',
  requires: ['prompt-resolver'],
  options: v.strictObject({
    max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 2000),
    max_turns: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(200)), 20),
  }),
  setup: () => (_turn, next) => next(),
  compose(deps, options) {
    return async (req, next) => {
      // The summary is spent first: it stands for everything before these turns, and whether it reaches the
      // model in the system prompt ({{summary}}) or as its own message it takes room in the same context.
      const summary = req.vars.summary ?? ''
      const promptHasSummary = req.prompt?.version.systemPrompt.includes('{{summary}}') ?? false
      const summaryLine = summary && !promptHasSummary ? `이전 대화 요약: ${summary}` : ''
      let budget = options.max_tokens - (summary ? estimateTokens(summaryLine || summary) : 0)
      const recent =
        options.max_turns === 0
          ? []
          : req.messageId
            ? await messagesBefore(
                deps.db,
                req.convId,
                { id: req.messageId, createdAt: req.receivedAt },
                options.max_turns,
              )
            : await recentMessages(deps.db, req.convId, options.max_turns)
      const kept: ChatMessage[] = []
      for (let i = recent.length - 1; i >= 0; i--) {
        const m = recent[i]!
        const cost = estimateTokens(m.content)
        if (cost > budget) break
        budget -= cost
        kept.unshift({ role: m.role, content: m.content })
      }
      if (summaryLine) kept.unshift({ role: 'system', content: summaryLine })
      req.history = kept
      await next()
    }
  },
})
