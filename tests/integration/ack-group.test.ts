import { describe, expect, test } from 'bun:test'
import { AppError } from '../../src/errors.ts'
import { currentConversation } from '../../src/store/conversations.ts'
import { type Db, type Dialect, openStore } from '../../src/store/db.ts'
import { type Bucket, takeToken } from '../../src/store/ratelimit.ts'
import { newId } from '../../src/store/rows.ts'
import { getTask } from '../../src/store/tasks.ts'
import { enqueueTurnTask, type NewTurnTask, type TurnEnqueued } from '../../src/store/turn-enqueue.ts'
import { type AppUser, upsertUser } from '../../src/store/users.ts'
import { testDialects, useTestDb } from '../helpers/db.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

/**
 * Acks that come while the database is busy go together in one statement on PostgreSQL (turn-enqueue.ts, group
 * commit). The first ack's statement is held at a gate until the others have queued behind it, so the next
 * statement carries all of them; each must keep the outcome it would have had alone, and write exactly what it
 * would have written alone. SQLite runs each ack in its own transaction: the same outcomes, no groups.
 */
for (const dialect of await testDialects()) {
  describe(`acks grouped in one statement (${dialect})`, () => {
    const tdb = useTestDb(dialect as Dialect, `ack-group-${dialect}`)
    const db = () => tdb.store.db
    const q = (sql: string, p: unknown[] = []) => db().query<Row>(sql, p)
    const bucket: Bucket = { burst: 2, perMinute: 1 }

    /** A Db whose group statements are counted by their rows; the first waits until `open()`. */
    function gated() {
      const groups: number[] = []
      let open!: () => void
      const gate = new Promise<void>((resolve) => {
        open = resolve
      })
      const gatedDb: Db = {
        ...db(),
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          if (sql.includes('jsonb_to_recordset')) {
            groups.push((params[0] as unknown[]).length)
            if (groups.length === 1) await gate
          }
          return db().query<R>(sql, params)
        },
      }
      return { db: gatedDb, groups, open }
    }

    async function someone(label: string) {
      const now = new Date()
      const { user } = await upsertUser(db(), { botId: 'group', kakaoUserId: `${label}-${newId()}` }, now)
      const { conversation } = await currentConversation(db(), user.id, 30, now)
      return { user, conversation }
    }

    const turn = (
      who: { user: AppUser; conversation: { id: string } },
      over: Partial<NewTurnTask> = {},
    ): NewTurnTask => ({
      userId: who.user.id,
      convId: who.conversation.id,
      messageId: newId(),
      content: `안녕하세요 ${newId()}`,
      requestId: `req-${newId()}`,
      input: {
        v: 2,
        utterance: '안녕하세요',
        promptName: 'default',
        vars: {},
        receivedAt: new Date().toISOString(),
      },
      callbackUrl: `http://127.0.0.1:9/cb/${newId()}`,
      expiresAt: new Date(Date.now() + 60_000),
      deadlineAt: new Date(Date.now() + 50_000),
      maxAttempts: 3,
      now: new Date(),
      bucket,
      notifyChannel: 'kbot_group_test',
      expect: {
        userUpdatedAt: who.user.updatedAt,
        cutoff: new Date(Date.now() - 30 * 60_000),
        flagged: false,
      },
      ...over,
    })

    const outcome = (o: TurnEnqueued) =>
      o.stale ? 'stale' : o.limited ? 'limited' : o.task ? 'stored' : 'duplicate'
    const tasksOf = async (userId: string) =>
      (
        await q('select id, request_id from aiprocessingtask where user_id = $1 order by created_at, id', [
          userId,
        ])
      ).length
    const messagesOf = async (convId: string) =>
      (await q('select content from message where conv_id = $1 order by created_at, id', [convId])).map(
        (r) => r.content as string,
      )

    test('one group: stored, stale, duplicate and limited turns each keep their own outcome and writes', async () => {
      const [u0, u1, u2, u3, u4, u5, u6] = await Promise.all(
        ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map(someone),
      )
      // u6's conversation was flagged by crisis-guard, and the turn was decided knowing it.
      await q('update conversation set flagged_at = $2 where id = $1', [u6!.conversation.id, new Date()])
      // u3's request id is already taken (no token: u3 has no bucket row); u4's bucket is empty.
      const earlier = await enqueueTurnTask(db(), turn(u3!, { requestId: 'group-dup', bucket: null }))
      expect(earlier.task).not.toBeNull()
      expect(await takeToken(db(), u4!.user.id, bucket)).toBe(true)
      expect(await takeToken(db(), u4!.user.id, bucket)).toBe(true)

      const g = gated()
      const first = enqueueTurnTask(g.db, turn(u0!))
      const u1a = turn(u1!)
      const u1b = turn(u1!, { now: new Date(u1a.now.getTime() + 1) })
      const staleTurn = turn(u2!, {
        expect: { ...turn(u2!).expect!, userUpdatedAt: new Date(u2!.user.updatedAt.getTime() + 1) },
      })
      const rest = [
        enqueueTurnTask(g.db, u1a),
        enqueueTurnTask(g.db, staleTurn),
        enqueueTurnTask(g.db, turn(u3!, { requestId: 'group-dup' })),
        enqueueTurnTask(g.db, turn(u4!)),
        enqueueTurnTask(g.db, turn(u5!, { expect: null })),
        enqueueTurnTask(g.db, turn(u6!, { expect: { ...turn(u6!).expect!, flagged: true } })),
        // u1 again: one turn per user in a group, so this one goes in the next statement, after u1's first.
        enqueueTurnTask(g.db, u1b),
      ]
      g.open()
      const outs = [await first, ...(await Promise.all(rest))]
      expect(outs.map(outcome)).toEqual([
        'stored',
        'stored',
        'stale',
        'duplicate',
        'limited',
        'stored',
        'stored',
        'stored',
      ])
      expect(outs.slice(2, 5)).toEqual([
        { task: null, limited: false, stale: true, notified: false },
        { task: null, limited: false, stale: false, notified: false },
        { task: null, limited: true, stale: false, notified: false },
      ])
      // Every stored turn's commit carried the NOTIFY (PostgreSQL; SQLite has none).
      expect(outs.filter((o) => o.task).map((o) => o.notified)).toEqual(Array(5).fill(dialect === 'postgres'))
      if (dialect === 'postgres') expect(g.groups).toEqual([1, 6, 1])

      // What each wrote: a task and its message for every stored turn, nothing else.
      expect(await tasksOf(u0!.user.id)).toBe(1)
      expect(await tasksOf(u1!.user.id)).toBe(2)
      expect(await messagesOf(u1!.conversation.id)).toEqual([u1a.content, u1b.content])
      for (const who of [u2!, u4!]) {
        expect(await tasksOf(who.user.id)).toBe(0)
        expect(await messagesOf(who.conversation.id)).toEqual([])
      }
      expect(await tasksOf(u3!.user.id)).toBe(1)
      expect((await messagesOf(u3!.conversation.id)).length).toBe(1)
      expect(await tasksOf(u5!.user.id)).toBe(1)
      expect(await tasksOf(u6!.user.id)).toBe(1)
      // Tokens: one per stored turn; none for the stale or the duplicate turn; the empty bucket stays empty.
      const tokens = async (userId: string) =>
        (await q('select tokens, allowed from ratelimit where user_id = $1', [userId]))[0]
      expect(Number((await tokens(u1!.user.id))?.tokens)).toBeLessThan(1)
      expect(await tokens(u2!.user.id)).toBeUndefined()
      expect(await tokens(u3!.user.id)).toBeUndefined()
      expect(Number((await tokens(u4!.user.id))?.allowed)).toBe(0)
      expect(Number((await tokens(u5!.user.id))?.tokens)).toBeGreaterThanOrEqual(1)
      // The conversation was touched at the turn's time; the task handed back is the stored one.
      const conv = await q('select last_activity_at from conversation where id = $1', [u1!.conversation.id])
      expect(new Date(conv[0]!.last_activity_at).getTime()).toBe(u1b.now.getTime())
      expect(await getTask(db(), outs[1]!.task!.id)).toEqual(outs[1]!.task)
    })

    test('in one group, each remembered state is checked on its own row: only the turn whose state holds is stored', async () => {
      const [u0, ok, other, moved, idle, owner] = await Promise.all(
        ['x0', 'ok', 'other', 'moved', 'idle', 'owner'].map(someone),
      )
      // `moved` opened a newer conversation elsewhere; `idle` was last active exactly at the session cutoff.
      await q(
        'insert into conversation (id, user_id, started_at, last_activity_at) values ($1, $2, $3, $3)',
        [newId(), moved!.user.id, new Date(moved!.conversation.startedAt.getTime() + 1000)],
      )
      const g = gated()
      const first = enqueueTurnTask(g.db, turn(u0!))
      const rest = [
        enqueueTurnTask(g.db, turn(ok!)),
        // A conversation that is not this user's.
        enqueueTurnTask(g.db, turn(other!, { convId: owner!.conversation.id })),
        enqueueTurnTask(g.db, turn(moved!)),
        enqueueTurnTask(
          g.db,
          turn(idle!, { expect: { ...turn(idle!).expect!, cutoff: idle!.conversation.lastActivityAt } }),
        ),
      ]
      g.open()
      const outs = [await first, ...(await Promise.all(rest))]
      expect(outs.map(outcome)).toEqual(['stored', 'stored', 'stale', 'stale', 'stale'])
      if (dialect === 'postgres') expect(g.groups).toEqual([1, 4])
      for (const who of [other!, moved!, idle!]) expect(await tasksOf(who.user.id)).toBe(0)
      expect(await messagesOf(owner!.conversation.id)).toEqual([])
    })

    test('turns with another rate limit or channel go in a group of their own; no bucket, no token', async () => {
      const names = ['y0', 'a1', 'free', 'a2', 'free2', 'quiet', 'b5', 'p7']
      const [u0, a1, free, a2, free2, quiet, b5, p7] = await Promise.all(names.map(someone))
      const g = gated()
      const first = enqueueTurnTask(g.db, turn(u0!))
      const rest = [
        enqueueTurnTask(g.db, turn(a1!)),
        enqueueTurnTask(g.db, turn(free!, { bucket: null })),
        enqueueTurnTask(g.db, turn(a2!)),
        enqueueTurnTask(g.db, turn(free2!, { bucket: null })),
        // The same rate limit, no NOTIFY; then another burst; then another rate.
        enqueueTurnTask(g.db, turn(quiet!, { notifyChannel: null })),
        enqueueTurnTask(g.db, turn(b5!, { bucket: { burst: 5, perMinute: bucket.perMinute } })),
        enqueueTurnTask(g.db, turn(p7!, { bucket: { burst: bucket.burst, perMinute: 7 } })),
      ]
      g.open()
      const outs = [await first, ...(await Promise.all(rest))]
      expect(outs.map(outcome)).toEqual(names.map(() => 'stored'))
      if (dialect === 'postgres') expect(g.groups).toEqual([1, 2, 2, 1, 1, 1])
      // Only the turn without a channel committed without the NOTIFY.
      expect(outs.map((o) => o.notified)).toEqual(names.map((n) => dialect === 'postgres' && n !== 'quiet'))
      for (const who of [free!, free2!])
        expect(await q('select 1 from ratelimit where user_id = $1', [who.user.id])).toEqual([])
      // Each bucket's own burst: 5 - 1 and 2 - 1 tokens left.
      const left = async (who: typeof b5) =>
        Number((await q('select tokens from ratelimit where user_id = $1', [who!.user.id]))[0]?.tokens)
      expect(await left(b5)).toBe(4)
      expect(await left(p7)).toBeCloseTo(1, 3)
    })

    if (dialect === 'postgres')
      test('a database that is down fails the whole group at once, without a retry per turn', async () => {
        const people = await Promise.all(['z0', 'z1', 'z2', 'z3'].map(someone))
        const g = gated()
        let groupStatements = 0
        const down: Db = {
          ...g.db,
          query: async <R>(sql: string, params: readonly unknown[] = []) => {
            if (sql.includes('jsonb_to_recordset') && ++groupStatements > 1)
              throw new AppError('DB_UNAVAILABLE', 'database unavailable: connection refused')
            return g.db.query<R>(sql, params)
          },
        }
        const first = enqueueTurnTask(down, turn(people[0]!))
        const rest = Promise.allSettled(people.slice(1).map((p) => enqueueTurnTask(down, turn(p))))
        g.open()
        expect(outcome(await first)).toBe('stored')
        const settled = await rest
        expect(settled.map((r) => (r.status === 'rejected' ? (r.reason as AppError).code : 'ok'))).toEqual([
          'DB_UNAVAILABLE',
          'DB_UNAVAILABLE',
          'DB_UNAVAILABLE',
        ])
        expect(groupStatements).toBe(2)
      })

    test('a row that fails (its conversation deleted meanwhile) fails only its own turn', async () => {
      const [u0, u1, gone, u3] = await Promise.all(['v0', 'v1', 'gone', 'v3'].map(someone))
      // Decided on the conversation just before another instance deleted it (a forget, say).
      await q('delete from conversation where id = $1', [gone!.conversation.id])
      const g = gated()
      const calls = Promise.allSettled(
        [u0!, u1!, gone!, u3!].map((who) => enqueueTurnTask(g.db, turn(who, { expect: null }))),
      )
      g.open()
      const settled = await calls
      expect(settled.map((s) => (s.status === 'fulfilled' ? outcome(s.value) : 'failed'))).toEqual([
        'stored',
        'stored',
        'failed',
        'stored',
      ])
      // The group failed as a whole, then each ran alone.
      if (dialect === 'postgres') expect(g.groups).toEqual([1, 3, 1, 1, 1])
      expect(await tasksOf(u1!.user.id)).toBe(1)
      expect(await tasksOf(u3!.user.id)).toBe(1)
      expect(await tasksOf(gone!.user.id)).toBe(0)
      expect(await q('select 1 from ratelimit where user_id = $1', [gone!.user.id])).toEqual([])
    })

    // SQLite has no NOTIFY: one process owns the file.
    if (dialect === 'postgres')
      test('one NOTIFY per group, sent with its commit', async () => {
        const store = tdb.store
        let heard = 0
        let ready!: () => void
        const listening = new Promise<void>((resolve) => {
          ready = resolve
        })
        const unlisten = await store.notifier!.listen('kbot_group_test', () => heard++, ready)
        try {
          await listening
          const people = await Promise.all(['w0', 'w1', 'w2', 'w3'].map(someone))
          const g = gated()
          const first = enqueueTurnTask(g.db, turn(people[0]!))
          const rest = people.slice(1).map((p) => enqueueTurnTask(g.db, turn(p)))
          g.open()
          await Promise.all([first, ...rest])
          expect(g.groups).toEqual([1, 3])
          await waitFor(() => heard >= 2, { what: 'two notifications' })
          // A probe NOTIFY after both: once it is heard, nothing else from the groups is still on its way.
          await store.notifier!.notify('kbot_group_test')
          await waitFor(() => heard >= 3, { what: 'the probe' })
          expect(heard).toBe(3)
        } finally {
          await unlisten()
        }
      })

    if (dialect === 'postgres')
      test("a lone ack's statement runs on the ack's own connection, not on the pool's", async () => {
        const [started] = await q('select clock_timestamp() as at')
        const who = await someone('lane')
        expect(outcome(await enqueueTurnTask(db(), turn(who)))).toBe('stored')
        const lane = await q(
          `select query from pg_stat_activity
            where datname = current_database() and application_name = 'kbot ack' and query_start >= $1`,
          [started!.at],
        )
        expect(lane.map((r) => (r.query as string).includes('jsonb_to_recordset'))).toEqual([true])
      })

    if (dialect === 'postgres')
      test("while the ack's connection is held up, the next group goes to the pool instead of queueing behind it", async () => {
        const [held, free] = await Promise.all(['held', 'free'].map(someone))
        // Another session holds the first turn's conversation row: its statement waits for the lock.
        const locker = await openStore(tdb.url, { max: 1 })
        let release!: () => void
        const released = new Promise<void>((resolve) => {
          release = resolve
        })
        let locked!: () => void
        const isLocked = new Promise<void>((resolve) => {
          locked = resolve
        })
        const holding = locker.db.tx(async (tx) => {
          await tx.query('select 1 from conversation where id = $1 for update', [held!.conversation.id])
          locked()
          await released
        })
        try {
          await isLocked
          const first = enqueueTurnTask(db(), turn(held!))
          let firstDone = false
          void first.finally(() => {
            firstDone = true
          })
          await waitFor(
            async () =>
              (
                await q(
                  `select 1 from pg_stat_activity where datname = current_database()
                      and application_name = 'kbot ack' and wait_event_type = 'Lock'`,
                )
              ).length === 1,
            { what: "the first statement waiting for the lock on the ack's connection" },
          )
          // The second turn's group starts once the first has been out for the stall limit, on the pool.
          const second = enqueueTurnTask(db(), turn(free!)).then(outcome)
          expect(await Promise.race([second, Bun.sleep(5000).then(() => 'still waiting')])).toBe('stored')
          expect(firstDone).toBe(false)
          release()
          await holding
          expect(outcome(await first)).toBe('stored')
          expect(await tasksOf(held!.user.id)).toBe(1)
          expect(await tasksOf(free!.user.id)).toBe(1)
        } finally {
          release()
          await holding.catch(() => {})
          await locker.close()
        }
      })
  })
}
