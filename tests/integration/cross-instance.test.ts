import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createPromptVersion } from '../../src/store/prompts.ts'
import { createTestDb, pgAvailable, type TestDb } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>
const hasPg = await pgAvailable()

/**
 * Two instances on one PostgreSQL, in one process but each with its own connections. The poll is set to ten
 * minutes, so any pick-up within a test's time can only come from LISTEN/NOTIFY (no duration is asserted).
 */
describe.skipIf(!hasPg)('across instances (postgres)', () => {
  let model: FakeOpenAI
  let db: TestDb
  let front: TestKbot
  let back: TestKbot

  beforeAll(async () => {
    model = startFakeOpenAI({ content: '다른 인스턴스의 답변' })
    db = await createTestDb('postgres', 'cross')
    const toml = '[worker]\npoll_ms = 600000'
    // The front instance has no workers: everything it accepts must be picked up by the back instance.
    front = await startTestKbot({
      dialect: 'postgres',
      label: 'front',
      db,
      toml,
      env: { OPENAI_BASE_URL: model.url, WORKER_CONCURRENCY: '0' },
    })
    back = await startTestKbot({
      dialect: 'postgres',
      label: 'back',
      db,
      toml,
      env: { OPENAI_BASE_URL: model.url },
    })
  })
  afterAll(async () => {
    await front.stop()
    await back.stop()
    await db.drop()
    model.close()
  })

  const status = async (user: string) =>
    (
      await db.store.db.query<Row>(
        `select t.status, t.created_at, t.started_at from aiprocessingtask t join appuser u on u.id = t.user_id
          where u.kakao_user_id = $1`,
        [user],
      )
    )[0]

  test('a task accepted by a full instance is picked up by another at once (NOTIFY, not the poll)', async () => {
    await front.post('/skill', kakaoPayload({ utterance: '질문', userId: 'cross-1' }))
    const row = await waitFor(
      async () => {
        const r = await status('cross-1')
        return r?.status === 'completed' ? r : null
      },
      { timeoutMs: 20_000, what: 'the back instance to complete the task (the poll is 10 minutes away)' },
    )
    expect(row.started_at).not.toBeNull()
  })

  test('the wake-up survives the listening connection being killed', async () => {
    const killed = await db.store.db.query<Row>(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
        where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`,
    )
    expect(killed.length).toBeGreaterThan(0)
    // The listener reconnects by itself; a request after that must still be picked up without the poll.
    await waitFor(
      async () =>
        (
          await db.store.db.query<Row>(
            `select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`,
          )
        ).length >= killed.length,
      { what: 'LISTEN to be re-established' },
    )
    await front.post('/skill', kakaoPayload({ utterance: '다시 질문', userId: 'cross-2' }))
    const row = await waitFor(
      async () => {
        const r = await status('cross-2')
        return r?.status === 'completed' ? r : null
      },
      { timeoutMs: 20_000, what: 'the back instance to complete the task (the poll is 10 minutes away)' },
    )
    expect(row.started_at).not.toBeNull()
  })

  test('a prompt change announced by one instance reaches the cache of the other', async () => {
    // Warm both caches with version 1.
    expect((await back.kbot.prompts.active('default'))?.version).toBe(1)
    expect((await front.kbot.prompts.active('default'))?.version).toBe(1)
    await createPromptVersion(db.store.db, { name: 'default', systemPrompt: '새 버전의 시스템 프롬프트' })
    await front.kbot.prompts.changed()
    await waitFor(async () => (await back.kbot.prompts.active('default'))?.version === 2, { timeoutMs: 2000 })
    const before = model.requests.length
    await front.post('/skill', kakaoPayload({ utterance: '프롬프트 확인', userId: 'cross-3' }))
    await waitFor(() => model.requests.length > before)
    expect(model.requests[before]!.body.messages[0]!.content).toBe('새 버전의 시스템 프롬프트')
  })
})
