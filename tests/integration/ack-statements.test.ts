import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { spyOnStatements } from '../helpers/db-spy.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

/**
 * Round trips of the ack: one /skill turn with a callbackUrl for a returning user in an open conversation.
 * Every statement counts (a transaction counts BEGIN and COMMIT too, a NOTIFY counts), so a change that adds a
 * round trip to the ack fails here. Workers are off (concurrency 0) so that only the request's statements count.
 * Before issue 13: 11 on PostgreSQL, 10 on SQLite. A returning user this instance remembers (the context cache):
 * one statement on PostgreSQL.
 */
const LIMIT: Record<Dialect, number> = { postgres: 1, sqlite: 7 }
/**
 * A user never seen: the read that finds nothing, then on PostgreSQL one statement for the user and their
 * conversation (with both events) and one for the task.
 */
const NEW_USER_LIMIT: Record<Dialect, number> = { postgres: 3, sqlite: 13 }

for (const dialect of await testDialects()) {
  describe(`ack statements (${dialect})`, () => {
    let kakao: FakeKakao
    let k: TestKbot
    const counter = { n: 0, sql: [] as string[] }
    // Only statements sent on behalf of the counted request: the delivery guard's timer runs beside it.
    const inRequest = new AsyncLocalStorage<boolean>()

    beforeAll(async () => {
      kakao = startFakeKakao()
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `ack-stmts-${dialect}`,
        env: { CALLBACK_ALLOWED_HOSTS: kakao.origin, OPENAI_BASE_URL: 'http://127.0.0.1:9' },
        toml: '[worker]\nconcurrency = 0',
      })
      // Every statement (BEGIN and COMMIT of a transaction count) sent on behalf of the counted request.
      spyOnStatements(k.db.store.db, (sql) => {
        if (!inRequest.getStore()) return undefined
        counter.n++
        counter.sql.push(sql.replace(/\s+/g, ' ').slice(0, 80))
        return undefined
      })
      const notifier = k.db.store.notifier
      if (notifier) {
        const notify = notifier.notify.bind(notifier)
        notifier.notify = (channel, payload) => {
          if (inRequest.getStore()) {
            counter.n++
            counter.sql.push(`notify ${channel}`)
          }
          return notify(channel, payload)
        }
      }
    })
    afterAll(async () => {
      await k.stop()
      kakao.close()
    })

    test('a returning user in an open conversation: the ack takes few round trips', async () => {
      const user = `u-ack-${dialect}`
      const send = (text: string) =>
        k.post('/skill', kakaoPayload({ utterance: text, userId: user, callbackUrl: kakao.callbackUrl() }), {
          'x-request-id': `ack-${crypto.randomUUID()}`,
        })
      // The first turn creates the user and the conversation and warms the prompt cache.
      expect((await send('안녕하세요')).json.useCallback).toBe(true)
      // That turn's NOTIFY went out with its statement. Within 5 ms of it the next turn would commit without one
      // (a later turn's statement, or a NOTIFY of its own 20 ms on, announces it): the counted turn comes after.
      const first = Date.now()
      await waitFor(() => Date.now() - first > 10, {
        timeoutMs: 1000,
        intervalMs: 2,
        what: 'the NOTIFY window to pass',
      })
      const res = await inRequest.run(true, () => send('오늘 날씨 어때요?'))
      expect(res.json.useCallback).toBe(true)
      console.log(`[ack-statements] ${dialect}: ${counter.n} round trips\n  ${counter.sql.join('\n  ')}`)
      const tasks = await k.db.store.db.query<{ n: number }>(
        `select count(*) as n from aiprocessingtask t join appuser u on u.id = t.user_id
          where u.kakao_user_id = $1`,
        [user],
      )
      expect(Number(tasks[0]!.n)).toBe(2)
      // What the ack stored: the turn only; the prompt, summary and history wait for the worker.
      const [stored] = await k.db.store.db.query<{ input: unknown }>(
        `select t.input from aiprocessingtask t join appuser u on u.id = t.user_id
          where u.kakao_user_id = $1 order by t.created_at desc limit 1`,
        [user],
      )
      const input = typeof stored!.input === 'string' ? JSON.parse(stored!.input) : stored!.input
      expect(input).toMatchObject({ v: 2, utterance: '오늘 날씨 어때요?', promptName: 'default' })
      expect(input.messages).toBeUndefined()
      expect(counter.n).toBeLessThanOrEqual(LIMIT[dialect as Dialect])
      // The instance remembered the user from the first turn: no read of the user before the pipeline.
      expect(counter.sql.filter((s) => s.startsWith('select u.*'))).toEqual([])
    })

    test('a user kbot has never seen: one read, then the user, the conversation and the task', async () => {
      const user = `u-new-${dialect}-${crypto.randomUUID()}`
      // Past the NOTIFY window of the previous test's turns (see above).
      const before = Date.now()
      await waitFor(() => Date.now() - before > 10, { timeoutMs: 1000, intervalMs: 2, what: 'the window' })
      counter.n = 0
      counter.sql = []
      const res = await inRequest.run(true, () =>
        k.post(
          '/skill',
          kakaoPayload({ utterance: '처음이에요', userId: user, callbackUrl: kakao.callbackUrl() }),
          {
            'x-request-id': `new-${crypto.randomUUID()}`,
          },
        ),
      )
      expect(res.json.useCallback).toBe(true)
      console.log(
        `[ack-statements] ${dialect}, new user: ${counter.n} round trips\n  ${counter.sql.join('\n  ')}`,
      )
      const [row] = await k.db.store.db.query<{ tasks: number; convs: number; events: string }>(
        `select (select count(*) from aiprocessingtask t where t.user_id = u.id) as tasks,
                (select count(*) from conversation c where c.user_id = u.id) as convs,
                (select string_agg(e.type, ',' order by e.type) from eventlog e where e.user_id = u.id) as events
           from appuser u where u.kakao_user_id = $1`,
        [user],
      )
      expect({ tasks: Number(row!.tasks), convs: Number(row!.convs), events: row!.events }).toEqual({
        tasks: 1,
        convs: 1,
        events: 'conversation_started,user_created',
      })
      // Before: eleven on PostgreSQL (a second read of the user, a look for an earlier conversation to touch,
      // a transaction to end one and open one, each event a statement of its own), then four (the user and the
      // conversation each a statement of its own).
      expect(counter.n).toBeLessThanOrEqual(NEW_USER_LIMIT[dialect as Dialect])
    })
  })
}
