import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { currentConversation } from '../../src/store/conversations.ts'
import type { Dialect } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { enqueueTask, type TaskInput } from '../../src/store/tasks.ts'
import { upsertUser } from '../../src/store/users.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

const INPUT: TaskInput = {
  messages: [{ role: 'user', content: '안녕' }],
  model: 'gpt-4o',
  temperature: 0.2,
  maxTokens: 100,
  prompt: null,
}

/** Two kbot instances on one database tick the same scheduled time: one task, one run. */
for (const dialect of await testDialects()) {
  describe(`periodic jobs across instances (${dialect})`, () => {
    let db: TestDb
    let a: TestKbot
    let b: TestKbot

    beforeAll(async () => {
      db = await createTestDb(dialect as Dialect, `jobs-${dialect}`)
      const toml = '[retention]\ntask_days = 1\nbatch_size = 10'
      a = await startTestKbot({ dialect: dialect as Dialect, label: 'jobs-a', db, toml })
      b = await startTestKbot({ dialect: dialect as Dialect, label: 'jobs-b', db, toml })
    })
    afterAll(async () => {
      await a?.stop()
      await b?.stop()
      await db.drop()
    })

    test('retention ticked by both instances for the same time is enqueued and run once', async () => {
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'jobs' })
      const old = new Date(Date.now() - 3 * 86_400_000)
      // An answer finished three days ago (kept from running: run_after far ahead until it is marked done).
      const oldTask = await enqueueTask(db.store.db, {
        kind: 'ai_answer',
        input: INPUT,
        userId: user.id,
        deadlineAt: old,
        runAfter: new Date(Date.now() + 86_400_000),
        maxAttempts: 1,
        now: old,
      })
      await db.store.db.query(
        "update aiprocessingtask set status = 'completed', completed_at = $2 where id = $1",
        [oldTask!.id, old],
      )

      const at = new Date('2026-12-01T04:17:00.000Z')
      const ticks = await Promise.all([
        a.kbot.jobs.tick('retention', at),
        b.kbot.jobs.tick('retention', at),
        a.kbot.jobs.tick('retention', at),
      ])
      expect(ticks.filter((t) => t !== null)).toHaveLength(1)

      const jobs = await waitFor(async () => {
        // Retention's runs only: the instances' own `[memory] schedule` may tick meanwhile (every ten minutes).
        const rows = await db.store.db.query<Row>(
          "select * from aiprocessingtask where kind = 'job' and dedupe_key like 'job:retention:%'",
        )
        return rows.every((r) => r.status === 'completed') ? rows : null
      })
      expect(jobs).toHaveLength(1)
      expect(jobs[0]).toMatchObject({ dedupe_key: `job:retention:${at.toISOString()}`, user_id: null })
      expect(Number(jobs[0]!.attempts)).toBe(1)
      const left = await db.store.db.query('select id from aiprocessingtask where id = $1', [oldTask!.id])
      expect(left).toHaveLength(0)

      // The next scheduled time is a new run.
      const next = await b.kbot.jobs.tick('retention', new Date(at.getTime() + 86_400_000))
      expect(next).not.toBeNull()
      expect(await a.kbot.jobs.tick('retention', new Date(at.getTime() + 86_400_000))).toBeNull()
    })
  })
}

/** The summaries job through the real queue: two instances tick, one summary task, one model call. */
for (const dialect of await testDialects()) {
  describe(`the summaries job through the queue (${dialect})`, () => {
    let db: TestDb
    let a: TestKbot
    let b: TestKbot
    let model: FakeOpenAI

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '사용자는 이사 준비로 바쁘다.' })
      db = await createTestDb(dialect as Dialect, `jobsum-${dialect}`)
      const env = { OPENAI_BASE_URL: model.url }
      a = await startTestKbot({ dialect: dialect as Dialect, label: 'jobsum-a', db, env })
      b = await startTestKbot({ dialect: dialect as Dialect, label: 'jobsum-b', db, env })
    })
    afterAll(async () => {
      await a?.stop()
      await b?.stop()
      await db.drop()
      model?.close()
    })

    test('an idle conversation is summarised once, by one task, and the next tick finds nothing new', async () => {
      const s = db.store.db
      const { user } = await upsertUser(s, { botId: 'b', kakaoUserId: 'jobsum' })
      const hourAgo = new Date(Date.now() - 3_600_000)
      const { conversation } = await currentConversation(s, user.id, 30, hourAgo)
      await insertMessage(s, {
        convId: conversation.id,
        role: 'user',
        content: '다음 주에 이사해요',
        createdAt: hourAgo,
      })
      await insertMessage(s, {
        convId: conversation.id,
        role: 'assistant',
        content: '바쁘시겠어요',
        createdAt: hourAgo,
      })

      const at = new Date()
      await Promise.all([a.kbot.jobs.tick('summaries', at), b.kbot.jobs.tick('summaries', at)])
      const summary = await waitFor(async () => {
        const rows = await s.query<Row>('select * from usersummary where user_id = $1', [user.id])
        return rows[0] ?? null
      })
      expect(summary.summary).toBe('사용자는 이사 준비로 바쁘다.')
      const tasks = await waitFor(async () => {
        const rows = await s.query<Row>("select * from aiprocessingtask where kind = 'summary'")
        return rows.length > 0 && rows.every((r) => r.status === 'completed') ? rows : null
      })
      expect(tasks).toHaveLength(1)
      expect(model.requests.filter((r) => r.body.model === 'gpt-4o-mini')).toHaveLength(1)

      // A later tick on either instance: the same messages are already summarised, nothing is enqueued.
      const later = new Date(at.getTime() + 600_000)
      await Promise.all([a.kbot.jobs.tick('summaries', later), b.kbot.jobs.tick('summaries', later)])
      await waitFor(async () => {
        const rows = await s.query<Row>(
          "select * from aiprocessingtask where kind = 'job' and status <> 'completed'",
        )
        return rows.length === 0
      })
      const after = await s.query<Row>("select id from aiprocessingtask where kind = 'summary'")
      expect(after).toHaveLength(1)
    })
  })
}
