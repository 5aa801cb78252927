import { describe, expect, test } from 'bun:test'
import historyContext from '../../plugins/history-context/index.ts'
import { estimateTokens } from '../../src/ai/tokens.ts'
import type { AnswerRequest, PluginDeps } from '../../src/pipeline/types.ts'
import type { Db } from '../../src/store/db.ts'

/** Ten turns of the conversation, each costing the same estimate; the stub returns them newest first. */
const LINES = Array.from({ length: 10 }, (_, i) => `메시지 번호 ${i} 입니다`)
const COST = estimateTokens(LINES[0]!)
const db = {
  dialect: 'sqlite',
  query: async () =>
    LINES.map((content, i) => ({
      id: `m${i}`,
      conv_id: 'c',
      role: i % 2 ? 'assistant' : 'user',
      content,
      tokens: null,
      created_at: new Date(i * 1000).toISOString(),
    })).reverse(),
} as unknown as Db

async function historyOf(summary: string, systemPrompt: string, maxTokens: number) {
  // Worker time since issue 13: the history is read when a worker claims the turn's task.
  const handler = await historyContext.compose!({ db } as PluginDeps, {
    max_tokens: maxTokens,
    max_turns: 20,
  })
  const req = {
    convId: 'c',
    messageId: null,
    vars: { summary },
    prompt: { version: { systemPrompt } },
    history: [],
  } as unknown as AnswerRequest
  await handler(req, async () => {})
  return req.history
}

describe('history-context: the summary and the token budget', () => {
  test('without a summary, the newest turns that fit the budget are kept', async () => {
    const h = await historyOf('', '{{summary}}', COST * 4)
    expect(h.map((m) => m.content)).toEqual(LINES.slice(6))
  })

  test('a summary sent as its own message counts against the budget and comes first', async () => {
    const summary = '가'.repeat(COST * 2 - 4 - 10) // with "이전 대화 요약: " it costs about two turns
    const line = `이전 대화 요약: ${summary}`
    const budget = COST * 4
    const h = await historyOf(summary, '요약 없는 프롬프트', budget)
    expect(h[0]).toEqual({ role: 'system', content: line })
    const turns = Math.floor((budget - estimateTokens(line)) / COST)
    expect(turns).toBeLessThan(4)
    expect(h.slice(1).map((m) => m.content)).toEqual(LINES.slice(10 - turns))
  })

  test('a summary carried by the prompt ({{summary}}) is not repeated, but still takes its room', async () => {
    const summary = '나'.repeat(COST * 2)
    const h = await historyOf(summary, '이전 대화 요약: {{summary}}', COST * 4)
    expect(h.every((m) => m.role !== 'system')).toBe(true)
    expect(h.length).toBe(Math.floor((COST * 4 - estimateTokens(summary)) / COST))
  })
})
