import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { currentConversation } from '../../src/store/conversations.ts'
import type { Dialect } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { insertTask, type TaskInput } from '../../src/store/tasks.ts'
import { upsertUser } from '../../src/store/users.ts'
import { pruneTasks } from '../../src/worker/retention.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'

const ROOT = join(import.meta.dir, '..', '..')
const INPUT: TaskInput = {
  messages: [{ role: 'user', content: '질문' }],
  model: 'gpt-4o',
  temperature: 0.2,
  maxTokens: 10,
  prompt: null,
}
type Row = Record<string, any>

function kbot(db: TestDb, ...args: string[]) {
  const r = Bun.spawnSync(['bun', 'cli/index.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: db.url },
  })
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() }
}

for (const dialect of await testDialects()) {
  describe(`retention and kbot tasks (${dialect})`, () => {
    let db: TestDb
    const ids: Record<string, string> = {}

    beforeAll(async () => {
      db = await createTestDb(dialect as Dialect, `retention-${dialect}`)
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'retention' })
      const { conversation } = await currentConversation(db.store.db, user.id, 30)
      const day = 86_400_000
      const make = async (name: string, status: string, ageDays: number, callback: string | null = null) => {
        const msg = await insertMessage(db.store.db, { convId: conversation.id, role: 'user', content: name })
        const created = new Date(Date.now() - ageDays * day)
        const task = await insertTask(db.store.db, {
          userId: user.id,
          convId: conversation.id,
          messageId: msg.id,
          requestId: null,
          input: INPUT,
          callbackUrl: callback,
          expiresAt: callback ? new Date(Date.now() + 60_000) : null,
          deadlineAt: new Date(created.getTime() + 3800),
          maxAttempts: 3,
          now: created,
        })
        const completed = status === 'completed' || status === 'failed' ? created : null
        await db.store.db.query(
          'update aiprocessingtask set status = $2, completed_at = $3, attempts = $4, error = $5 where id = $1',
          [
            task!.id,
            status,
            completed,
            status === 'pending' ? 0 : 3,
            status === 'failed' ? 'model server error (500)' : null,
          ],
        )
        ids[name] = task!.id
      }
      for (let i = 0; i < 5; i++) await make(`old-done-${i}`, 'completed', 40)
      await make('old-failed', 'failed', 40)
      await make('old-pending', 'pending', 40)
      await make('new-done', 'completed', 1)
      await make('new-failed', 'failed', 1)
      await make('failed-live-callback', 'failed', 0, 'https://bot-api.kakao.com/v1/bots/x/callback/t')
    })
    afterAll(() => db.drop())

    test('finished tasks older than task_days are deleted in batches; unfinished and recent ones stay', async () => {
      const config = loadConfig({ env: { DATABASE_URL: db.url }, cwd: ROOT })
      const small = { ...config, retention: { ...config.retention, batch_size: 2 } }
      expect(await pruneTasks(db.store.db, small)).toBe(6)
      const left = await db.store.db.query<Row>('select id from aiprocessingtask')
      expect(new Set(left.map((r) => r.id))).toEqual(
        new Set([ids['old-pending'], ids['new-done'], ids['new-failed'], ids['failed-live-callback']]),
      )
      expect(await pruneTasks(db.store.db, small)).toBe(0)
      const keepAll = { ...config, retention: { ...config.retention, task_days: 0 } }
      expect(await pruneTasks(db.store.db, keepAll)).toBe(0)
    })

    test('kbot tasks list / show work on what remains, with --json and as a table', () => {
      const list = kbot(db, 'tasks', 'list', '--json')
      expect(list.code).toBe(0)
      const page = JSON.parse(list.out) as { tasks: Row[]; total: number }
      expect(page.tasks.length).toBe(4)
      expect(page.total).toBe(4)
      const failed = kbot(db, 'tasks', 'list', '--status', 'failed', '--json')
      expect((JSON.parse(failed.out).tasks as Row[]).map((r) => r.task_id).sort()).toEqual(
        [ids['new-failed'], ids['failed-live-callback']].sort(),
      )
      const human = kbot(db, 'tasks', 'list')
      expect(human.out).toMatch(/^id\s+status\s+callback/)
      const show = kbot(db, 'tasks', 'show', ids['new-failed']!, '--json')
      expect(JSON.parse(show.out)).toMatchObject({
        task_id: ids['new-failed'],
        status: 'failed',
        error: 'model server error (500)',
      })
      const missing = kbot(db, 'tasks', 'show', '01900000-0000-7000-8000-000000000000')
      expect(missing.code).toBe(1)
      expect(missing.err.trim()).toBe('kbot: NOT_FOUND: no task with id 01900000-0000-7000-8000-000000000000')
    })

    test('kbot tasks retry: failed → pending with fresh attempts; says where the answer will go; refuses others', async () => {
      // Late-answer already showed the failure: a retried answer must still be offered.
      await db.store.db.query('update aiprocessingtask set delivered_at = $2 where id = $1', [
        ids['new-failed'],
        new Date(),
      ])
      const late = kbot(db, 'tasks', 'retry', ids['new-failed']!, '--json')
      expect(late.code).toBe(0)
      expect(JSON.parse(late.out)).toMatchObject({
        delivery: 'next-message',
        task: { status: 'pending', attempts: 0, delivered_at: null },
      })
      const live = kbot(db, 'tasks', 'retry', ids['failed-live-callback']!)
      expect(live.code).toBe(0)
      expect(live.out).toContain('the answer will be sent through it')
      const again = kbot(db, 'tasks', 'retry', ids['new-failed']!)
      expect(again.code).toBe(1)
      expect(again.err).toContain('only failed tasks can be retried')
      const events = await db.store.db.query<Row>(`select id from eventlog where type = 'task_retried'`)
      expect(events.length).toBe(2)
    })
  })
}
