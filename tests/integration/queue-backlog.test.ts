import { beforeAll, describe, expect, test } from 'bun:test'
import type { Db, Dialect } from '../../src/store/db.ts'
import { claimTasks } from '../../src/store/task-claims.ts'
import { dueCallbacks, expireCallbacks } from '../../src/store/task-delivery.ts'
import { upsertUser } from '../../src/store/users.ts'
import { testDialects, useTestDb } from '../helpers/db.ts'

/**
 * Under a burst thousands of tasks queue up, and every instance claims work and runs the delivery guard
 * (twice a second) the whole time. Those statements must read a handful of rows however long the queue is,
 * never the whole backlog: on PostgreSQL EXPLAIN ANALYZE counts the rows each one reads; SQLite has no such
 * count, so there its plan must reach aiprocessingtask through an index range (or the primary key) only.
 */
const QUEUED = 3000
const HISTORY = 2000

interface Reads {
  sql: string
  /** PostgreSQL: rows read from aiprocessingtask (returned by a scan plus filtered out by it). */
  rows: number | null
  /** SQLite: the plan's lines about aiprocessingtask. */
  plan: string[]
}

/** Every node of an EXPLAIN (FORMAT JSON) plan. */
function nodes(plan: Record<string, unknown>): Record<string, unknown>[] {
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? []
  return [plan, ...children.flatMap(nodes)]
}

/** A Db that measures each statement (in a transaction it rolls back) before running it for real. */
function measuring(db: Db, reads: Reads[]): Db {
  const measure = async (sql: string, params: readonly unknown[]) => {
    if (db.dialect === 'sqlite') {
      const lines = await db.query<{ detail: string }>(`explain query plan ${sql}`, params)
      const plan = lines.map((l) => l.detail).filter((d) => d.includes('aiprocessingtask'))
      reads.push({ sql, rows: null, plan })
      return
    }
    class Rollback extends Error {}
    await db
      .tx(async (tx) => {
        const [out] = await tx.query<{ 'QUERY PLAN': { Plan: Record<string, unknown> }[] }>(
          `explain (analyze, format json) ${sql}`,
          params,
        )
        const scans = nodes(out!['QUERY PLAN'][0]!.Plan).filter(
          (n) => n['Relation Name'] === 'aiprocessingtask',
        )
        const rows = scans.reduce(
          (sum, n) =>
            sum +
            Number(n['Actual Rows']) * Number(n['Actual Loops']) +
            Number(n['Rows Removed by Filter'] ?? 0) +
            Number(n['Rows Removed by Index Recheck'] ?? 0),
          0,
        )
        reads.push({ sql, rows, plan: [] })
        throw new Rollback()
      })
      .catch((err) => {
        if (!(err instanceof Rollback)) throw err
      })
  }
  return {
    ...db,
    dialect: db.dialect,
    async query(sql, params = []) {
      await measure(sql, params)
      return db.query(sql, params)
    },
  } as Db
}

for (const dialect of await testDialects()) {
  describe(`a long queue (${dialect})`, () => {
    const t = useTestDb(dialect as Dialect, `backlog-${dialect}`)
    const now = new Date()
    const at = (ms: number) => new Date(now.getTime() + ms).toISOString()

    beforeAll(async () => {
      const db = t.store.db
      const { user } = await upsertUser(db, { botId: 'b', kakaoUserId: 'u-backlog' })
      // Numbers 1..n in either dialect, for bulk rows.
      const series = (n: number) =>
        dialect === 'postgres'
          ? `select g as i from generate_series(1, ${n}) g`
          : `with recursive s(i) as (select 1 union all select i + 1 from s where i < ${n}) select i from s`
      const id =
        dialect === 'postgres'
          ? `cast(md5(k || '-' || i) as uuid)`
          : `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6)))`
      // The queue: callbacks waiting, deadlines 40-70 s away, none due, none expired.
      await db.query(
        `insert into aiprocessingtask (id, user_id, input, callback_url, callback_status, expires_at, deadline_at,
                                       max_attempts, run_after, created_at, updated_at)
         select ${id.replace('k', "'q'")}, $1, '{}', 'http://kakao.test/cb/' || i, 'pending', $2, $3, 3, $4, $4, $4
           from (${series(QUEUED)}) s`,
        [user.id, at(75_000), at(40_000), at(-1000)],
      )
      // History: answered and delivered long ago.
      await db.query(
        `insert into aiprocessingtask (id, user_id, input, status, callback_status, deadline_at, max_attempts,
                                       run_after, created_at, completed_at, updated_at)
         select ${id.replace('k', "'h'")}, $1, '{}', 'completed', 'sent', $2, 3, $2, $2, $2, $2
           from (${series(HISTORY)}) s`,
        [user.id, at(-3_600_000)],
      )
      // The most urgent one sits in the middle of the queue.
      await db.query(
        `update aiprocessingtask set deadline_at = $1 where callback_url = 'http://kakao.test/cb/1777'`,
        [at(30_000)],
      )
      if (dialect === 'postgres') await db.query('analyze aiprocessingtask')
      const [count] = await db.query<{ n: number }>('select count(*) as n from aiprocessingtask')
      expect(Number(count!.n)).toBe(QUEUED + HISTORY)
    })

    const expectBounded = (reads: Reads[], maxRows: number) => {
      expect(reads.length).toBeGreaterThan(0)
      for (const r of reads) {
        if (dialect === 'postgres') {
          expect({ sql: r.sql, rows: r.rows! <= maxRows }).toEqual({ sql: r.sql, rows: true })
        } else {
          // Every access by an index range or key: `SEARCH … (col<?)`, `(col>?)`, `(id=?)`.
          for (const line of r.plan) expect(line).toMatch(/^SEARCH aiprocessingtask USING .*\(.*[<>=]\?.*\)/)
          expect(r.plan.length).toBeGreaterThan(0)
        }
      }
    }

    test('a claim reads a few rows, not the queue, and takes the earliest deadlines', async () => {
      const reads: Reads[] = []
      const claimed = await claimTasks(measuring(t.store.db, reads), {
        owner: 'w',
        limit: 3,
        leaseMs: 60_000,
      })
      expect(claimed.map((c) => c.status)).toEqual(['processing', 'processing', 'processing'])
      expect(claimed[0]!.callbackUrl).toBe('http://kakao.test/cb/1777')
      expectBounded(reads, 30)
    })

    test("the guard's pass reads a few rows: nothing due, nothing expired", async () => {
      const reads: Reads[] = []
      const db = measuring(t.store.db, reads)
      expect(await expireCallbacks(db, now)).toEqual([])
      expect(await dueCallbacks(db, now, 3000)).toEqual([])
      expectBounded(reads, 30)
    })
  })
}
