import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Dialect } from '../../src/store/db.ts'
import { MIGRATIONS_DIR, migrate, readMigrations } from '../../src/store/migrate.ts'
import { newId } from '../../src/store/rows.ts'
import { upsertUser } from '../../src/store/users.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

/** Migration 0004 (task kinds) on a database that already holds tasks written under 0001. */
for (const dialect of await testDialects()) {
  describe(`migration 0004 (task kinds) upgrades 0001 rows (${dialect})`, () => {
    let db: TestDb
    let model: FakeOpenAI
    let k: TestKbot | null = null
    const dir = mkdtempSync(join(tmpdir(), 'kbot-mig1-'))

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '업그레이드 후 답변' })
      db = await createTestDb(dialect as Dialect, `mig2-${dialect}`, { migrate: false })
      mkdirSync(join(dir, dialect))
      cpSync(join(MIGRATIONS_DIR, dialect, '0001_init.sql'), join(dir, dialect, '0001_init.sql'))
    })
    afterAll(async () => {
      await k?.stop()
      model.close()
      await db.drop()
      rmSync(dir, { recursive: true, force: true })
    })

    test('old rows become ai_answer, keep their data and still run; new kinds fit', async () => {
      expect((await migrate(db.store.db, dir)).applied.map((m) => m.id)).toEqual([1])
      const { user } = await upsertUser(db.store.db, { botId: 'b', kakaoUserId: 'upgrade' })
      const input = {
        messages: [{ role: 'user', content: '안녕' }],
        model: 'gpt-4o',
        temperature: 0.2,
        maxTokens: 50,
        prompt: null,
      }
      const ids = { pending: newId(), done: newId() }
      const now = new Date()
      // Written the way a 0001 kbot wrote them: no kind column exists yet.
      for (const [id, status] of [
        [ids.pending, 'pending'],
        [ids.done, 'completed'],
      ] as const) {
        await db.store.db.query(
          `insert into aiprocessingtask (id, user_id, request_id, status, input, deadline_at, max_attempts,
             run_after, created_at, updated_at, ai_response)
           values ($1, $2, $3, $4, $5, $6, 3, $6, $6, $6, $7)`,
          [id, user.id, `req-${status}`, status, input, now, status === 'completed' ? '예전 답변' : null],
        )
      }

      const result = await migrate(db.store.db)
      expect(result.applied.map((m) => m.id)).toEqual(
        readMigrations(dialect as Dialect)
          .map((m) => m.id)
          .slice(1),
      )
      const rows = await db.store.db.query<Row>(
        'select id, kind, dedupe_key, status, request_id, ai_response from aiprocessingtask order by request_id',
      )
      expect(rows.map((r) => [r.id, r.kind, r.dedupe_key, r.status, r.ai_response])).toEqual([
        [ids.done, 'ai_answer', null, 'completed', '예전 답변'],
        [ids.pending, 'ai_answer', null, 'pending', null],
      ])
      // The unique request id survived the rebuild (SQLite) or was never touched (PostgreSQL).
      await expect(
        db.store.db.query(
          `insert into aiprocessingtask (id, user_id, request_id, input, deadline_at, max_attempts)
           values ($1, $2, 'req-pending', $3, $4, 1)`,
          [newId(), user.id, input, now],
        ),
      ).rejects.toThrow()
      // A background kind: no user, a dedupe key that is unique.
      const job = [newId(), 'job', 'job:x:1', { name: 'x' }, now]
      const insertJob = `insert into aiprocessingtask (id, kind, dedupe_key, input, deadline_at, max_attempts, run_after)
                         values ($1, $2, $3, $4, $5, 1, $5)`
      await db.store.db.query(insertJob, job)
      await expect(db.store.db.query(insertJob, [newId(), ...job.slice(1)])).rejects.toThrow()
      await db.store.db.query('delete from aiprocessingtask where kind = $1', ['job'])

      // A kbot of this build picks the old pending task up and answers it.
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `mig2-run-${dialect}`,
        db,
        env: { OPENAI_BASE_URL: model.url },
      })
      const done = await waitFor(async () => {
        const r = (
          await db.store.db.query<Row>('select status, ai_response from aiprocessingtask where id = $1', [
            ids.pending,
          ])
        )[0]!
        return r.status === 'completed' ? r : null
      })
      expect(done.ai_response).toBe('업그레이드 후 답변')
    })
  })
}
