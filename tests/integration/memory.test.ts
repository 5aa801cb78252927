import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAiClient } from '../../src/ai/client.ts'
import { costOf } from '../../src/ai/cost.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { enqueueIdleSummaries, findIdleForSummary, summaryDedupeKey } from '../../src/memory/find-idle.ts'
import { summarizeConversation } from '../../src/memory/summarize.ts'
import { currentConversation, touchConversation } from '../../src/store/conversations.ts'
import { type Db, type Dialect, openStore, type Store } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { createPromptVersion } from '../../src/store/prompts.ts'
import { getSummary } from '../../src/store/summaries.ts'
import { upsertUser } from '../../src/store/users.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>
const MIN = 60_000
const T0 = new Date('2026-11-20T01:00:00.000Z')
const at = (minutes: number) => new Date(T0.getTime() + minutes * MIN)
const log = createLogger({ level: 'silent' })

/** A conversation of `lines` (user, assistant, user, …) starting at `start` minutes, one minute apart. */
async function talk(db: Db, userId: string, start: number, lines: string[]) {
  const { conversation } = await currentConversation(db, userId, 30, at(start))
  const ids: string[] = []
  for (const [i, content] of lines.entries()) {
    const role = i % 2 === 0 ? 'user' : 'assistant'
    ids.push(
      (await insertMessage(db, { convId: conversation.id, role, content, createdAt: at(start + i) })).id,
    )
  }
  await touchConversation(db, conversation.id, at(start + lines.length - 1))
  return { convId: conversation.id, ids }
}

for (const dialect of await testDialects()) {
  describe(`long-term memory: the summary job (${dialect})`, () => {
    let db: TestDb
    let second: Store
    let model: FakeOpenAI
    let config: Config
    let cfgDir: string
    const deps = () => ({ db: db.store.db, ai: createAiClient(config, log), config, log })

    beforeAll(async () => {
      model = startFakeOpenAI()
      db = await createTestDb(dialect as Dialect, `memory-${dialect}`)
      second = await openStore(db.url) // a second instance: its own connections, the same tables
      cfgDir = mkdtempSync(join(tmpdir(), 'kbot-memory-'))
      config = loadConfig({
        cwd: cfgDir,
        env: { DATABASE_URL: db.url, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: model.url },
      })
    })
    afterAll(async () => {
      await second.close()
      await db.drop()
      model.close()
      rmSync(cfgDir, { recursive: true, force: true })
    })

    test('an idle conversation is summarised once, with only new messages; the next one folds the summary in', async () => {
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'mem-1' })
      const first = await talk(db.store.db, user.id, 0, [
        '요즘 잠을 잘 못 자요',
        '언제부터 그러셨어요?',
        '이직하고 나서 2주째요',
        '많이 지치셨겠어요.',
      ])
      // Still inside the session timeout (30 min): not idle yet.
      expect(await findIdleForSummary(db.store.db, config, at(20))).toEqual([])

      // Both instances tick at the same moment: they see the same conversation under the same dedupe key, so
      // the queue holds one task for it.
      const a = await findIdleForSummary(db.store.db, config, at(40))
      const b = await findIdleForSummary(second.db, config, at(40))
      expect(a).toEqual([
        { userId: user.id, convId: first.convId, lastMessageId: first.ids[3]!, newMessages: 4 },
      ])
      expect(b).toEqual(a)
      expect(summaryDedupeKey(b[0]!.convId, b[0]!.lastMessageId)).toBe(
        summaryDedupeKey(a[0]!.convId, a[0]!.lastMessageId),
      )

      model.script({
        content: '이직 후 2주째 불면으로 지쳐 있음.',
        usage: { prompt_tokens: 120, completion_tokens: 15 },
      })
      const before = model.requests.length
      const outcome = await summarizeConversation(deps(), {
        userId: user.id,
        convId: first.convId,
        taskId: null,
      })
      expect(outcome.status).toBe('updated')
      expect(model.requests.length).toBe(before + 1)
      const sent = model.requests.at(-1)!.body
      expect(sent.model).toBe('gpt-4o-mini')
      expect(sent.max_tokens).toBe(500)
      expect(sent.messages[0]!.role).toBe('system')
      expect(sent.messages[0]!.content).toContain('상담 기록을 정리하는 도우미') // the seeded `summary` prompt
      expect(sent.messages[1]!.content).toBe(
        '이전 요약:\n(없음)\n\n새 대화:\n사용자: 요즘 잠을 잘 못 자요\n상담사: 언제부터 그러셨어요?\n' +
          '사용자: 이직하고 나서 2주째요\n상담사: 많이 지치셨겠어요.',
      )
      const saved = await getSummary(db.store.db, user.id)
      expect(saved).toMatchObject({
        summary: '이직 후 2주째 불면으로 지쳐 있음.',
        lastMessageId: first.ids[3],
      })

      // Accounted like any other model call: a promptlog row (without a message) with tokens and cost.
      const logs = await db.store.db.query<Row>('select * from promptlog where user_id = $1', [user.id])
      expect(logs.length).toBe(1)
      expect(logs[0]).toMatchObject({ msg_id: null, prompt_name: 'summary', model: 'gpt-4o-mini' })
      expect(Number(logs[0]!.total_tokens)).toBe(135)
      expect(Number(logs[0]!.cost_usd)).toBeCloseTo(
        costOf({}, 'gpt-4o-mini', { promptTokens: 120, completionTokens: 15 })!,
        12,
      )

      // The next tick, on either instance, finds nothing; running the task again makes no model call.
      expect(await findIdleForSummary(second.db, config, at(50))).toEqual([])
      const again = await summarizeConversation(
        { ...deps(), db: second.db },
        { userId: user.id, convId: first.convId },
      )
      expect(again.status).toBe('nothing-new')
      expect(model.requests.length).toBe(before + 1)

      // The user comes back; the new conversation is summarised with the previous summary and only its messages.
      const next = await talk(db.store.db, user.id, 60, ['오늘은 좀 잤어요', '다행이에요!'])
      expect(await findIdleForSummary(db.store.db, config, at(100))).toEqual([
        { userId: user.id, convId: next.convId, lastMessageId: next.ids[1]!, newMessages: 2 },
      ])
      model.script({ content: '이직 후 불면이 있었으나 최근 조금 나아짐.' })
      expect((await summarizeConversation(deps(), { userId: user.id, convId: next.convId })).status).toBe(
        'updated',
      )
      expect(model.requests.at(-1)!.body.messages[1]!.content).toBe(
        '이전 요약:\n이직 후 2주째 불면으로 지쳐 있음.\n\n새 대화:\n사용자: 오늘은 좀 잤어요\n상담사: 다행이에요!',
      )
      expect(await getSummary(db.store.db, user.id)).toMatchObject({
        summary: '이직 후 불면이 있었으나 최근 조금 나아짐.',
        lastMessageId: next.ids[1],
      })
      const events = await db.store.db.query<Row>(
        `select * from eventlog where user_id = $1 and type = 'summary_updated'`,
        [user.id],
      )
      expect(events.length).toBe(2)
    })

    test('the tick: two instances ticking together enqueue one task per conversation; disabled enqueues none', async () => {
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'mem-tick' })
      const c = await talk(db.store.db, user.id, 0, ['첫 질문', '첫 답변'])
      // Stands in for the queue's unique dedupe key until the runner lands (enqueueTask returns null on it).
      const keys = new Set<string>()
      const enqueue = async (t: { dedupeKey: string }) =>
        !keys.has(t.dedupeKey) && Boolean(keys.add(t.dedupeKey))
      const [a, b] = await Promise.all([
        enqueueIdleSummaries(db.store.db, config, enqueue, at(40)),
        enqueueIdleSummaries(second.db, config, enqueue, at(40)),
      ])
      expect(a.found).toBe(b.found)
      expect(a.enqueued + b.enqueued).toBe(a.found)
      expect(keys.has(summaryDedupeKey(c.convId, c.ids[1]!))).toBe(true)
      const off = { ...config, memory: { ...config.memory, enabled: false } }
      expect(await enqueueIdleSummaries(db.store.db, off, enqueue, at(40))).toEqual({ found: 0, enqueued: 0 })
      // Summarised: the next tick finds nothing of this conversation.
      await summarizeConversation(deps(), { userId: user.id, convId: c.convId })
      expect((await findIdleForSummary(db.store.db, config, at(41))).some((f) => f.convId === c.convId)).toBe(
        false,
      )
    })

    test('fewer new messages than min_new_messages wait; the summary prompt version decides model and max_tokens', async () => {
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'mem-2' })
      const one = await talk(db.store.db, user.id, 0, ['안녕하세요'])
      const found = await findIdleForSummary(db.store.db, config, at(40))
      expect(found.some((f) => f.convId === one.convId)).toBe(false)

      await createPromptVersion(db.store.db, {
        name: 'summary',
        systemPrompt: '요약해 주세요. 이름: {{user_name}}',
        model: 'gpt-4.1-nano',
        maxTokens: 123,
      })
      await summarizeConversation(deps(), { userId: user.id, convId: one.convId })
      const sent = model.requests.at(-1)!.body
      expect(sent.model).toBe('gpt-4.1-nano')
      expect(sent.max_tokens).toBe(123)
      expect(sent.messages[0]!.content).toBe('요약해 주세요. 이름: ')
    })

    test('two instances running the same summary at once: one summary is saved, the other dropped', async () => {
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'mem-3' })
      const c = await talk(db.store.db, user.id, 0, ['질문', '답변'])
      let n = 0
      model.setDefault(() => ({ content: `요약 ${++n}`, delayMs: 50 }))
      const outcomes = await Promise.all([
        summarizeConversation(deps(), { userId: user.id, convId: c.convId }),
        summarizeConversation({ ...deps(), db: second.db }, { userId: user.id, convId: c.convId }),
      ])
      model.setDefault({})
      expect(outcomes.map((o) => o.status).sort()).toEqual(['superseded', 'updated'])
      const winner = outcomes.find((o) => o.status === 'updated') as { summary: string }
      expect((await getSummary(db.store.db, user.id))?.summary).toBe(winner.summary)
    })
  })

  describe(`long-term memory: the next turn (${dialect})`, () => {
    test("the next turn's prompt carries the summary", async () => {
      const model = startFakeOpenAI({ content: '네, 기억하고 있어요.' })
      const k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `memory-turn-${dialect}`,
        env: { OPENAI_BASE_URL: model.url },
      })
      try {
        const db = k.db.store.db
        const { user } = await upsertUser(db, { botId: '5cda0a3cffa74200015ba7b5', kakaoUserId: 'mem-turn' })
        const old = new Date(Date.now() - 2 * 3_600_000)
        const { conversation } = await currentConversation(db, user.id, 30, old)
        await insertMessage(db, {
          convId: conversation.id,
          role: 'user',
          content: '강아지 이름은 콩이예요',
          createdAt: old,
        })
        model.script({ content: '반려견 이름은 콩.' })
        const out = await summarizeConversation(
          { db, ai: createAiClient(k.config, log), config: k.config, log },
          { userId: user.id, convId: conversation.id },
        )
        expect(out.status).toBe('updated')
        const res = await k.post(
          '/skill',
          kakaoPayload({
            utterance: '우리 강아지 이름 기억해요?',
            userId: 'mem-turn',
            botId: '5cda0a3cffa74200015ba7b5',
          }),
        )
        expect(res.status).toBe(200)
        const req = await waitFor(() =>
          model.requests.find((r) => r.body.messages.at(-1)?.content === '우리 강아지 이름 기억해요?'),
        )
        expect(req.body.messages[0]!.content).toContain('이전 대화 요약: 반려견 이름은 콩.')
      } finally {
        await k.stop()
        model.close()
      }
    })
  })
}
