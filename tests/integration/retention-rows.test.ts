import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Config, loadConfig } from '../../src/config.ts'
import { pruneAll } from '../../src/jobs/prune.ts'
import { currentConversation, touchConversation } from '../../src/store/conversations.ts'
import type { Dialect } from '../../src/store/db.ts'
import { insertCallLog, saveSummary } from '../../src/store/memory.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { newId } from '../../src/store/rows.ts'
import { upsertUser } from '../../src/store/users.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'

type Row = Record<string, any>
const DAY = 86_400_000
const NOW = new Date('2026-11-20T00:00:00.000Z')
const ago = (days: number) => new Date(NOW.getTime() - days * DAY)

for (const dialect of await testDialects()) {
  describe(`retention of events, log lines and old messages (${dialect})`, () => {
    let db: TestDb
    let config: Config
    let dir: string
    const kept: Record<string, string[]> = { eventlog: [], logmessage: [], message: [] }
    const q = (sql: string, p: unknown[] = []) => db.store.db.query<Row>(sql, p)
    const ids = async (table: string) =>
      (await q(`select id from ${table} order by id`)).map((r) => String(r.id))
    const withRetention = (r: Partial<Config['retention']>): Config => ({
      ...config,
      retention: { ...config.retention, batch_size: 2, ...r },
    })

    beforeAll(async () => {
      db = await createTestDb(dialect as Dialect, `retention-rows-${dialect}`)
      dir = mkdtempSync(join(tmpdir(), 'kbot-retention-'))
      config = loadConfig({ cwd: dir, env: { DATABASE_URL: db.url } })
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'old-timer' })
      await q('delete from eventlog') // user_created and the like: this test places its own rows
      for (const [age, keep] of [
        [100, false],
        [95, false],
        [91, false],
        [89, true],
        [1, true],
      ] as const) {
        const id = newId()
        await q('insert into eventlog (id, user_id, type, detail, created_at) values ($1, $2, $3, $4, $5)', [
          id,
          user.id,
          'name_changed',
          {},
          ago(age),
        ])
        if (keep) kept.eventlog!.push(id)
      }
      for (const [age, keep] of [
        [40, false],
        [31, false],
        [29, true],
        [0, true],
      ] as const) {
        const id = newId()
        await q(
          'insert into logmessage (id, level, source, message, context, created_at) values ($1, $2, $3, $4, $5, $6)',
          [id, 'warn', 'test', 'line', {}, ago(age)],
        )
        if (keep) kept.logmessage!.push(id)
      }
      // A conversation idle for 400 days (never marked ended: its user did not come back), one of 10 days.
      const old = (await currentConversation(db.store.db, user.id, 30, ago(400))).conversation
      const oldMsgs = []
      for (let i = 0; i < 5; i++)
        oldMsgs.push(
          await insertMessage(db.store.db, {
            convId: old.id,
            role: i % 2 ? 'assistant' : 'user',
            content: `옛 ${i}`,
            createdAt: ago(400),
          }),
        )
      await q(
        `insert into promptlog (msg_id, user_id, model, messages, created_at) values ($1, $2, 'gpt-4o', '[]', $3)`,
        [oldMsgs[1]!.id, user.id, ago(400)],
      )
      // The summary points at the newest old message: it stays, so the summary job knows where it stopped.
      await saveSummary(db.store.db, {
        userId: user.id,
        summary: '옛 요약',
        lastMessageId: oldMsgs[4]!.id,
        expected: null,
        now: ago(399),
      })
      kept.message!.push(oldMsgs[4]!.id)
      const recent = (await currentConversation(db.store.db, user.id, 30, ago(10))).conversation
      for (let i = 0; i < 2; i++)
        kept.message!.push(
          (
            await insertMessage(db.store.db, {
              convId: recent.id,
              role: 'user',
              content: `최근 ${i}`,
              createdAt: ago(10),
            })
          ).id,
        )
      await touchConversation(db.store.db, recent.id, ago(10))
      const call = {
        userId: user.id,
        taskId: null,
        prompt: { id: null, name: 'summary', version: null },
        model: 'gpt-4o-mini',
        temperature: 0.2,
        maxTokens: 100,
        messages: [],
        promptTokens: 1,
        completionTokens: 1,
        totalTokens: 2,
        latencyMs: 1,
        costUsd: 0,
      }
      await insertCallLog(db.store.db, { ...call, now: ago(399) })
      await insertCallLog(db.store.db, { ...call, now: ago(5) })
      // conversation_started rows were written just now: young enough to stay.
      for (const r of await q(`select id from eventlog where type = 'conversation_started'`))
        kept.eventlog!.push(String(r.id))
    })
    afterAll(async () => {
      await db.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    test('defaults: events after 90 days, log lines after 30, messages kept forever', async () => {
      const messagesBefore = await ids('message')
      expect(await pruneAll(db.store.db, withRetention({}), NOW)).toEqual({
        eventlog: 3,
        logmessage: 2,
        message: 0,
        promptlog: 0,
      })
      expect(await ids('eventlog')).toEqual(kept.eventlog!.sort())
      expect(await ids('logmessage')).toEqual(kept.logmessage!.sort())
      expect(await ids('message')).toEqual(messagesBefore)
      expect(Number((await q('select count(*) as n from promptlog'))[0]!.n)).toBe(3)
      // Nothing more is old enough a second time.
      expect(await pruneAll(db.store.db, withRetention({}), NOW)).toEqual({
        eventlog: 0,
        logmessage: 0,
        message: 0,
        promptlog: 0,
      })
    })

    test('message_days: messages and prompt logs of conversations idle that long go, newer ones stay', async () => {
      const counts = await pruneAll(
        db.store.db,
        withRetention({ message_days: 365, event_days: 0, log_days: 0 }),
        NOW,
      )
      expect(counts).toEqual({ eventlog: 0, logmessage: 0, message: 4, promptlog: 1 })
      expect(await ids('message')).toEqual(kept.message!.sort())
      const logs = await q('select msg_id, created_at from promptlog')
      expect(logs.length).toBe(1)
      expect(logs[0]!.msg_id).toBeNull()
      expect(new Date(logs[0]!.created_at).getTime()).toBe(ago(5).getTime())
      expect(Number((await q('select count(*) as n from usersummary'))[0]!.n)).toBe(1)
      expect(Number((await q('select count(*) as n from conversation'))[0]!.n)).toBe(2)
    })
  })
}
