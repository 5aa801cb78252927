import { describe, expect, test } from 'bun:test'
import { currentConversation } from '../../src/store/conversations.ts'
import type { Db, Dialect } from '../../src/store/db.ts'
import { saveSummary } from '../../src/store/memory.ts'
import { insertMessage, recentMessages } from '../../src/store/messages.ts'
import { activatePrompt, createPromptVersion, getActivePrompt } from '../../src/store/prompts.ts'
import { newId } from '../../src/store/rows.ts'
import { retryFailedTask } from '../../src/store/task-admin.ts'
import {
  claimTasks,
  completeTask,
  failTask,
  releaseTasks,
  renewLease,
  rescheduleTask,
} from '../../src/store/task-claims.ts'
import { claimCallback, dueCallbacks } from '../../src/store/task-delivery.ts'
import { findDuplicate, getTask, insertTask, type TaskInput } from '../../src/store/tasks.ts'
import { insertUserForTurn, loadComposeContext } from '../../src/store/turn-context.ts'
import { insertUser, setUserName, upsertUser } from '../../src/store/users.ts'
import { testDialects, useTestDb } from '../helpers/db.ts'
import { waitFor } from '../helpers/wait.ts'

const INPUT: TaskInput = {
  messages: [{ role: 'user', content: '안녕' }],
  model: 'gpt-4o',
  temperature: 0.2,
  maxTokens: 100,
  prompt: null,
}

/** The same contract, run against every adapter available here. */
for (const dialect of await testDialects()) {
  describe(`store contract (${dialect})`, () => {
    const t = useTestDb(dialect as Dialect, `store-${dialect}`)

    test('placeholders, JSON, dates and booleans round-trip the same way', async () => {
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-json' })
      const when = new Date('2026-01-02T03:04:05.678Z')
      await t.store.db.query(
        'insert into eventlog (id, user_id, type, detail, created_at) values ($1, $2, $3, $4, $5)',
        [newId(), user.id, 'summary_updated', { nested: { a: [1, '둘'] } }, when],
      )
      const rows = await t.store.db.query<{ detail: unknown; created_at: unknown }>(
        'select detail, created_at from eventlog where user_id = $1 and type = $2',
        [user.id, 'summary_updated'],
      )
      const detail = typeof rows[0]!.detail === 'string' ? JSON.parse(rows[0]!.detail) : rows[0]!.detail
      expect(detail).toEqual({ nested: { a: [1, '둘'] } })
      expect(new Date(rows[0]!.created_at as string).toISOString()).toBe(when.toISOString())
    })

    if (dialect === 'sqlite')
      test('SQLite runs in WAL mode, synchronous=NORMAL, with a busy timeout', async () => {
        const [mode] = await t.store.db.query<{ journal_mode: string }>('pragma journal_mode')
        const [sync] = await t.store.db.query<{ synchronous: number }>('pragma synchronous')
        const [busy] = await t.store.db.query<{ timeout: number }>('pragma busy_timeout')
        expect([mode!.journal_mode, sync!.synchronous, busy!.timeout]).toEqual(['wal', 1, 5000])
      })

    test('a transaction commits as a whole or not at all', async () => {
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-tx' })
      await expect(
        t.store.db.tx(async (tx) => {
          await tx.query('update appuser set name = $1 where id = $2', ['바뀜', user.id])
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      const [row] = await t.store.db.query<{ name: string | null }>(
        'select name from appuser where id = $1',
        [user.id],
      )
      expect(row!.name).toBeNull()
    })

    test('concurrent transactions do not interleave (each sees only its own writes)', async () => {
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-serial' })
      const { conversation } = await currentConversation(t.store.db, user.id, 30)
      // Each transaction inserts, yields, then counts; interleaving would let one see the other's row.
      const seen = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t.store.db.tx(async (tx) => {
            const before = await tx.query<{ n: number }>(
              'select count(*) as n from message where conv_id = $1',
              [conversation.id],
            )
            await insertMessage(tx, { convId: conversation.id, role: 'user', content: `m${i}` })
            await Bun.sleep(2)
            const after = await tx.query<{ n: number }>(
              'select count(*) as n from message where conv_id = $1',
              [conversation.id],
            )
            return Number(after[0]!.n) - Number(before[0]!.n)
          }),
        ),
      )
      if (dialect === 'sqlite') expect(seen).toEqual(Array(8).fill(1))
      expect((await recentMessages(t.store.db, conversation.id, 100)).length).toBe(8)
    })

    test('a query outside a transaction waits instead of landing inside one that is open', async () => {
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-outside' })
      let release!: () => void
      const gate = new Promise<void>((r) => {
        release = r
      })
      let inside = false
      const tx = t.store.db.tx(async (txDb) => {
        await txDb.query('update appuser set name = $1 where id = $2', ['안쪽', user.id])
        inside = true
        await gate
        throw new Error('rolled back')
      })
      // The transaction has written and is still open: only now send the outside query.
      await waitFor(() => inside, { what: 'the transaction to have written' })
      const outside = t.store.db.query('update appuser set plusfriend_user_key = $1 where id = $2', [
        'pf',
        user.id,
      ])
      release()
      await expect(tx).rejects.toThrow('rolled back')
      await outside
      const [row] = await t.store.db.query<{ name: string | null; plusfriend_user_key: string | null }>(
        'select name, plusfriend_user_key from appuser where id = $1',
        [user.id],
      )
      // The rollback undid only the transaction's write; the outside write survived.
      expect(row).toEqual({ name: null, plusfriend_user_key: 'pf' })
    })

    test('upsertUser creates once under concurrent first messages', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-race' })),
      )
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1)
      expect(results.filter((r) => r.created).length).toBe(1)
    })

    test('insertUser under concurrent first messages: one user, one user_created, the others told it existed', async () => {
      const key = { botId: 'b', kakaoUserId: `u-insert-${newId()}`, plusfriendUserKey: 'PFK' }
      const results = await Promise.all(Array.from({ length: 10 }, () => insertUser(t.store.db, key)))
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1)
      expect(results.filter((r) => r.created).length).toBe(1)
      const userId = results[0]!.user.id
      expect(results[0]!.user.plusfriendUserKey).toBe('PFK')
      const events = await t.store.db.query<{ type: string; detail: unknown }>(
        'select type, detail from eventlog where user_id = $1',
        [userId],
      )
      const detail = (d: unknown) => (typeof d === 'string' ? JSON.parse(d) : d)
      expect(events.map((e) => [e.type, detail(e.detail)])).toEqual([['user_created', { bot_id: 'b' }]])
    })

    test('loadComposeContext: the active prompt version, the current name and the summary of this user, in one read', async () => {
      const db = t.store.db
      const statements: string[] = []
      const counting: Db = {
        ...db,
        query: (sql, params) => {
          statements.push(sql)
          return db.query(sql, params)
        },
      }
      const { user } = await upsertUser(db, { botId: 'b', kakaoUserId: `compose-${dialect}` })
      const { user: other } = await upsertUser(db, { botId: 'b', kakaoUserId: `compose-other-${dialect}` })
      const name = `compose-${dialect}`
      // Nothing yet: no version of this prompt, no name, no summary.
      expect(await loadComposeContext(counting, name, user.id)).toEqual({
        prompt: null,
        userName: null,
        summary: null,
      })
      expect(statements).toHaveLength(1)

      await createPromptVersion(db, { name, systemPrompt: 'v1 {{user_name}}', activate: true })
      const v2 = await createPromptVersion(db, { name, systemPrompt: 'v2 {{user_name}}', activate: false })
      await setUserName(db, user.id, '지은')
      const { conversation } = await currentConversation(db, other.id, 30)
      const m = await insertMessage(db, { convId: conversation.id, role: 'user', content: '안녕' })
      await saveSummary(db, {
        userId: other.id,
        summary: '다른 사람',
        lastMessageId: m.id,
        expected: null,
        now: new Date(),
      })
      const first = await loadComposeContext(db, name, user.id)
      expect([first.prompt?.version, first.prompt?.systemPrompt, first.userName, first.summary]).toEqual([
        1,
        'v1 {{user_name}}',
        '지은',
        null,
      ])
      await activatePrompt(db, v2.id)
      await saveSummary(db, {
        userId: user.id,
        summary: '배송 문의',
        lastMessageId: m.id,
        expected: null,
        now: new Date(),
      })
      const second = await loadComposeContext(db, name, user.id)
      expect(second.prompt).toEqual(await getActivePrompt(db, name))
      expect([second.prompt?.version, second.summary]).toEqual([2, '배송 문의'])
      expect((await loadComposeContext(db, name, other.id)).summary).toBe('다른 사람')
    })

    test('insertUserForTurn: a new user with their first conversation and both events; ten at once make one of each', async () => {
      const key = { botId: 'b', kakaoUserId: `u-turn-${newId()}`, plusfriendUserKey: 'PFK' }
      const at = new Date('2026-12-02T09:00:00.000Z')
      const results = await Promise.all(
        Array.from({ length: 10 }, () => insertUserForTurn(t.store.db, key, at)),
      )
      const userId = results[0]!.user.id
      expect(results.every((r) => r.user.id === userId && r.user.plusfriendUserKey === 'PFK')).toBe(true)
      // Only the call that created the user opened a conversation; the others are told to find it.
      const opened = results.flatMap((r) => (r.conversation ? [r.conversation] : []))
      expect(opened).toHaveLength(1)
      expect(opened[0]).toMatchObject({
        userId,
        startedAt: at,
        lastActivityAt: at,
        endedAt: null,
        flaggedAt: null,
      })
      expect((await currentConversation(t.store.db, userId, 30, at)).conversation.id).toBe(opened[0]!.id)
      const events = await t.store.db.query<{ type: string; detail: unknown }>(
        'select type, detail from eventlog where user_id = $1 order by type',
        [userId],
      )
      const detail = (d: unknown) => (typeof d === 'string' ? JSON.parse(d) : d)
      expect(events.map((e) => [e.type, detail(e.detail)])).toEqual([
        ['conversation_started', { conversation_id: opened[0]!.id, previous: null }],
        ['user_created', { bot_id: 'b' }],
      ])
      // A user that exists (another plusfriendUserKey): the key is updated, no conversation, no event.
      const again = await insertUserForTurn(t.store.db, { ...key, plusfriendUserKey: 'PFK2' }, at)
      expect(again).toMatchObject({ user: { id: userId, plusfriendUserKey: 'PFK2' }, conversation: null })
      const convs = await t.store.db.query('select id from conversation where user_id = $1', [userId])
      expect(convs).toHaveLength(1)
      expect(await t.store.db.query('select id from eventlog where user_id = $1', [userId])).toHaveLength(2)
    })

    test('insertUserForTurn writes all or nothing: a failed conversation insert leaves no user and no event', async () => {
      const fail = (db: Db): Db => ({
        dialect: db.dialect,
        query: (sql, params, opts) =>
          /insert into conversation/.test(sql)
            ? Promise.reject(new Error('the conversation insert failed'))
            : db.query(sql, params, opts),
        tx: (fn) => db.tx((inner) => fn(fail(inner))),
        exec: (sql) => db.exec(sql),
        close: () => db.close(),
      })
      const kakaoUserId = `u-atomic-${newId()}`
      const created = async () =>
        Number(
          (
            await t.store.db.query<{ n: number }>(
              "select count(*) as n from eventlog where type = 'user_created'",
            )
          )[0]!.n,
        )
      const before = await created()
      await expect(
        insertUserForTurn(fail(t.store.db), { botId: 'b', kakaoUserId }, new Date()),
      ).rejects.toThrow('the conversation insert failed')
      expect(
        await t.store.db.query('select id from appuser where kakao_user_id = $1', [kakaoUserId]),
      ).toEqual([])
      expect(await created()).toBe(before)
    })

    test('a conversation idle past the session timeout is ended and a new one opened', async () => {
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-session' })
      const t0 = new Date('2026-03-01T00:00:00Z')
      const first = await currentConversation(t.store.db, user.id, 30, t0)
      expect(first.isNew).toBe(true)
      const again = await currentConversation(t.store.db, user.id, 30, new Date(t0.getTime() + 29 * 60_000))
      expect(again).toMatchObject({ isNew: false, conversation: { id: first.conversation.id } })
      // Idle time counts from the last activity (minute 29), not from the start.
      const still = await currentConversation(t.store.db, user.id, 30, new Date(t0.getTime() + 50 * 60_000))
      expect(still).toMatchObject({ isNew: false, conversation: { id: first.conversation.id } })
      const later = await currentConversation(t.store.db, user.id, 30, new Date(t0.getTime() + 81 * 60_000))
      expect(later.isNew).toBe(true)
      expect(later.conversation.id).not.toBe(first.conversation.id)
      const ended = await t.store.db.query<{ ended_at: unknown }>(
        'select ended_at from conversation where id = $1',
        [first.conversation.id],
      )
      expect(ended[0]!.ended_at).not.toBeNull()
    })

    test('a turn that arrived a moment before the last activity stays in the same conversation', async () => {
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: 'u-order' })
      const t0 = new Date('2026-03-02T00:00:00Z')
      const first = await currentConversation(t.store.db, user.id, 30, t0)
      const late = await currentConversation(t.store.db, user.id, 30, new Date(t0.getTime() + 5000))
      const earlier = await currentConversation(t.store.db, user.id, 30, new Date(t0.getTime() + 4000))
      expect([late.isNew, earlier.isNew]).toEqual([false, false])
      expect(earlier.conversation.id).toBe(first.conversation.id)
      expect(earlier.conversation.lastActivityAt.getTime()).toBe(t0.getTime() + 5000)
    })

    test('prompt versions: max + 1, one active per name, rollback by activation', async () => {
      const v1 = await createPromptVersion(t.store.db, { name: 'p', systemPrompt: 'one' })
      const v2 = await createPromptVersion(t.store.db, { name: 'p', systemPrompt: 'two', temperature: 0.5 })
      expect([v1.version, v2.version]).toEqual([1, 2])
      expect((await getActivePrompt(t.store.db, 'p'))?.systemPrompt).toBe('two')
      await activatePrompt(t.store.db, v1.id)
      expect((await getActivePrompt(t.store.db, 'p'))?.id).toBe(v1.id)
      const active = await t.store.db.query(
        'select id from prompttemplate where name = $1 and is_active = $2',
        ['p', true],
      )
      expect(active.length).toBe(1)
    })

    test('concurrent activations of versions of one name leave exactly one active, without errors', async () => {
      const versions = await Promise.all(
        [1, 2, 3, 4].map((i) =>
          createPromptVersion(t.store.db, { name: 'race', systemPrompt: `v${i}`, activate: false }),
        ),
      )
      await Promise.all(versions.map((v) => activatePrompt(t.store.db, v.id)))
      const active = await t.store.db.query(
        'select id from prompttemplate where name = $1 and is_active = $2',
        ['race', true],
      )
      expect(active.length).toBe(1)
    })

    test('the default prompt was seeded by the first migration', async () => {
      const prompt = await getActivePrompt(t.store.db, 'default')
      expect(prompt?.version).toBe(1)
      expect(prompt?.systemPrompt).toContain('{{user_name}}')
    })

    describe('queue', () => {
      async function newTask(requestId: string | null = null, deadlineInMs = 60_000) {
        const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: `q-${Math.random()}` })
        const { conversation } = await currentConversation(t.store.db, user.id, 30)
        const msg = await insertMessage(t.store.db, {
          convId: conversation.id,
          role: 'user',
          content: '질문',
        })
        const now = new Date()
        return insertTask(t.store.db, {
          userId: user.id,
          convId: conversation.id,
          messageId: msg.id,
          requestId,
          input: INPUT,
          callbackUrl: `https://bot-api.kakao.com/v1/bots/x/callback/${newId()}`,
          expiresAt: new Date(now.getTime() + 60_000),
          deadlineAt: new Date(now.getTime() + deadlineInMs),
          maxAttempts: 3,
          now,
        })
      }

      test('the task an insert hands back is the row as stored (it is built from the insert, not read back)', async () => {
        const task = (await newTask(`chp-${newId()}`))!
        expect(await getTask(t.store.db, task.id)).toEqual(task)
      })

      test('a repeated request id inserts nothing', async () => {
        const id = `chp-${newId()}`
        const first = (await newTask(id))!
        expect(first.requestId).toBe(id)
        expect(first.messageId).not.toBeNull()
        expect((await getTask(t.store.db, first.id))!).toMatchObject({
          requestId: id,
          messageId: first.messageId,
        })
        expect(await newTask(id)).toBeNull()
        const rows = await t.store.db.query('select id from aiprocessingtask where request_id = $1', [id])
        expect(rows.length).toBe(1)
      })

      test('findDuplicate: the earliest task matching the request id or the callbackUrl; nothing without a key', async () => {
        const older = (await newTask(`chp-${newId()}`))!
        await waitFor(() => Date.now() > older.createdAt.getTime(), { what: 'the clock to move on' })
        const newer = (await newTask(`chp-${newId()}`))!
        expect(older.createdAt.getTime()).toBeLessThan(newer.createdAt.getTime())
        // Newer by request id, older by callbackUrl: the older one is the original delivery.
        const found = await findDuplicate(t.store.db, {
          requestId: newer.requestId,
          callbackUrl: older.callbackUrl,
        })
        expect(found?.id).toBe(older.id)
        const swapped = await findDuplicate(t.store.db, {
          requestId: older.requestId,
          callbackUrl: newer.callbackUrl,
        })
        expect(swapped?.id).toBe(older.id)
        expect((await findDuplicate(t.store.db, { requestId: newer.requestId, callbackUrl: null }))?.id).toBe(
          newer.id,
        )
        expect(await findDuplicate(t.store.db, { requestId: null, callbackUrl: null })).toBeNull()
      })

      test('concurrent claimers never take the same task', async () => {
        await t.store.db.query(`update aiprocessingtask set status = 'completed'`)
        const created = await Promise.all(Array.from({ length: 20 }, () => newTask()))
        const claims = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            claimTasks(t.store.db, { owner: `w${i}`, limit: 5, leaseMs: 10_000 }),
          ),
        )
        const ids = claims.flat().map((c) => c.id)
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids.length).toBe(20)
        expect(new Set(ids)).toEqual(new Set(created.map((c) => c!.id)))
        expect(claims.flat().every((c) => c.attempts === 1 && c.status === 'processing')).toBe(true)
      })

      test('earliest deadline first; overdue work after live work', async () => {
        await t.store.db.query(`update aiprocessingtask set status = 'completed' where status <> 'completed'`)
        const late = await newTask(null, 50_000)
        const soon = await newTask(null, 10_000)
        const overdue = await newTask(null, -1000)
        const claimed = await claimTasks(t.store.db, { owner: 'edf', limit: 1, leaseMs: 10_000 })
        expect(claimed[0]!.id).toBe(soon!.id)
        expect((await claimTasks(t.store.db, { owner: 'edf', limit: 1, leaseMs: 10_000 }))[0]!.id).toBe(
          late!.id,
        )
        expect((await claimTasks(t.store.db, { owner: 'edf', limit: 1, leaseMs: 10_000 }))[0]!.id).toBe(
          overdue!.id,
        )
      })

      test('an expired lease is reclaimed; the old owner can no longer renew or complete', async () => {
        await t.store.db.query(`update aiprocessingtask set status = 'completed' where status <> 'completed'`)
        const task = (await newTask())!
        const [a] = await claimTasks(t.store.db, { owner: 'A', limit: 1, leaseMs: 1000 })
        expect(a!.id).toBe(task.id)
        expect(await claimTasks(t.store.db, { owner: 'B', limit: 1, leaseMs: 10_000 })).toEqual([])
        // Two seconds later A's one-second lease has run out (A stopped renewing: it died or stalled).
        const later = new Date(Date.now() + 2000)
        const [b] = await claimTasks(t.store.db, { owner: 'B', limit: 1, leaseMs: 10_000, now: later })
        expect(b!.id).toBe(task.id)
        expect(b!.attempts).toBe(2)
        expect(await renewLease(t.store.db, task.id, 'A', 10_000)).toBe(false)
        expect(
          await completeTask(t.store.db, {
            id: task.id,
            owner: 'A',
            aiResponse: 'late',
            responseMessageId: a!.messageId!,
            tokensUsed: 1,
          }),
        ).toBeNull()
        expect(await renewLease(t.store.db, task.id, 'B', 10_000, later)).toBe(true)
        const done = await completeTask(t.store.db, {
          id: task.id,
          owner: 'B',
          aiResponse: 'ok',
          responseMessageId: b!.messageId!,
          tokensUsed: 3,
        })
        expect(done).toMatchObject({ status: 'completed', aiResponse: 'ok', tokensUsed: 3, leaseOwner: null })
      })

      test('a stale owner can neither fail nor reschedule the task it lost; the new owner still can', async () => {
        await t.store.db.query(`update aiprocessingtask set status = 'completed' where status <> 'completed'`)
        const task = (await newTask())!
        await claimTasks(t.store.db, { owner: 'A', limit: 1, leaseMs: 1000 })
        const later = new Date(Date.now() + 2000)
        const [b] = await claimTasks(t.store.db, { owner: 'B', limit: 1, leaseMs: 10_000, now: later })
        expect(b!.id).toBe(task.id)
        const held = (await getTask(t.store.db, task.id))!
        expect(held).toMatchObject({ status: 'processing', leaseOwner: 'B', attempts: 2, error: null })

        const retryAt = new Date(Date.now() + 60_000)
        expect(await rescheduleTask(t.store.db, task.id, 'A', retryAt, 'stale retry')).toBe(false)
        expect(await failTask(t.store.db, task.id, 'A', 'stale failure')).toBeNull()
        // The row is exactly as B left it: same status, owner, lease, run_after and no error.
        expect(await getTask(t.store.db, task.id)).toEqual(held)

        expect(await rescheduleTask(t.store.db, task.id, 'B', retryAt, 'retry', later)).toBe(true)
        expect(await getTask(t.store.db, task.id)).toMatchObject({
          status: 'pending',
          leaseOwner: null,
          runAfter: retryAt,
          error: 'retry',
        })
        // A pending task has no owner: neither the old nor the new one can fail it.
        expect(await failTask(t.store.db, task.id, 'B', 'not held')).toBeNull()
        const [c] = await claimTasks(t.store.db, { owner: 'C', limit: 1, leaseMs: 10_000, now: retryAt })
        expect(c!.id).toBe(task.id)
        expect(await failTask(t.store.db, task.id, 'B', 'stale failure')).toBeNull()
        expect(await failTask(t.store.db, task.id, 'C', 'gave up')).toMatchObject({
          status: 'failed',
          error: 'gave up',
          leaseOwner: null,
        })
      })

      test('a callback in its last half second is not used any more', async () => {
        const task = (await newTask())!
        const expiresAt = task.expiresAt!.getTime()
        expect(await claimCallback(t.store.db, task.id, new Date(expiresAt - 400))).toBeNull()
        expect(await claimCallback(t.store.db, task.id, new Date(expiresAt - 600))).not.toBeNull()
      })

      test('the guard finds a finished task whose worker never sent its callback', async () => {
        await t.store.db.query(
          `update aiprocessingtask set callback_status = 'expired' where callback_status = 'pending'`,
        )
        const task = (await newTask())!
        const now = new Date()
        await t.store.db.query(
          `update aiprocessingtask set status = 'completed', completed_at = $2 where id = $1`,
          [task.id, new Date(now.getTime() - 1000)],
        )
        expect(await dueCallbacks(t.store.db, now, 3000)).toEqual([])
        const later = new Date(now.getTime() + 5000)
        expect((await dueCallbacks(t.store.db, later, 3000)).map((d) => d.id)).toEqual([task.id])
      })

      test('an admin retry keeps a live callback and its deadline, and expires one it cannot keep', async () => {
        const live = (await newTask(null, 50_000))!
        const dead = (await newTask(null, 50_000))!
        const now = new Date()
        await t.store.db.query(
          `update aiprocessingtask set status = 'failed', completed_at = $1 where id in ($2, $3)`,
          [now, live.id, dead.id],
        )
        await t.store.db.query('update aiprocessingtask set expires_at = $2 where id = $1', [
          dead.id,
          new Date(now.getTime() - 1000),
        ])
        const later = new Date(now.getTime() + 3_600_000)
        expect(await retryFailedTask(t.store.db, live.id, { deadlineAt: later, now })).toMatchObject({
          status: 'pending',
          callbackStatus: 'pending',
          deadlineAt: live.deadlineAt,
        })
        // Its deadline moves past the URL's expiry, so the callback goes too: the guard would never see it expire.
        expect(await retryFailedTask(t.store.db, dead.id, { deadlineAt: later, now })).toMatchObject({
          status: 'pending',
          callbackStatus: 'expired',
          deadlineAt: later,
        })
      })

      test('the callback can be claimed exactly once, even by racing claimers', async () => {
        const task = (await newTask())!
        const results = await Promise.all(Array.from({ length: 8 }, () => claimCallback(t.store.db, task.id)))
        expect(results.filter((r) => r !== null).length).toBe(1)
      })

      test('release on shutdown returns work to pending without counting the interrupted attempt', async () => {
        await t.store.db.query(`update aiprocessingtask set status = 'completed' where status <> 'completed'`)
        const task = (await newTask())!
        await claimTasks(t.store.db, { owner: 'S', limit: 1, leaseMs: 10_000 })
        expect(await releaseTasks(t.store.db, 'S')).toBe(1)
        const rows = await t.store.db.query<{ status: string; attempts: number; lease_owner: string | null }>(
          'select status, attempts, lease_owner from aiprocessingtask where id = $1',
          [task.id],
        )
        expect(rows[0]).toEqual({ status: 'pending', attempts: 0, lease_owner: null })
      })
    })
  })
}
