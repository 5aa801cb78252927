import * as v from 'valibot'
import { estimateTokens } from '../../src/ai/tokens.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { recentMessages } from '../../src/store/messages.ts'
import type { ChatMessage } from '../../src/store/tasks.ts'

/**
 * The current conversation's recent turns, newest kept first within a token budget (the oldest are dropped),
 * plus the user's long-term summary when the prompt does not already carry it through {{summary}}.
 */
export default definePlugin({
  name: 'history-context',
  requires: ['prompt-resolver'],
  options: v.strictObject({
    max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 2000),
    max_turns: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(200)), 20),
  }),
  setup(deps, options) {
    return async (turn, next) => {
      const recent =
        options.max_turns > 0 ? await recentMessages(deps.db, turn.conversation.id, options.max_turns) : []
      const kept: ChatMessage[] = []
      let budget = options.max_tokens
      for (let i = recent.length - 1; i >= 0; i--) {
        const m = recent[i]!
        const cost = estimateTokens(m.content)
        if (cost > budget) break
        budget -= cost
        kept.unshift({ role: m.role, content: m.content })
      }
      const summary = turn.vars.summary
      const promptHasSummary = turn.prompt?.version.systemPrompt.includes('{{summary}}') ?? false
      if (summary && !promptHasSummary)
        kept.unshift({ role: 'system', content: `이전 대화 요약: ${summary}` })
      turn.history = kept
      await next()
    }
  },
})
