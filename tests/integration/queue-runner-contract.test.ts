/**
 * The queue runner's promises, one by one, on the real runner and store with test kinds: claiming and slots,
 * wake-ups (in-process, NOTIFY, poll backstop), leases and fencing (a worker that lost its lease writes nothing),
 * retries with backoff capped by the deadline, completion in one transaction, and shutdown with release.
 * Fast on purpose (it runs per mutant under `bun run mutate queue`): small leases, condition waits, no sleeps
 * except short ones that prove something did NOT happen.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { AppError } from '../../src/errors.ts'
import { createLogger } from '../../src/logger.ts'
import { noMetrics } from '../../src/metrics/registry.ts'
import { createQueueRunner, type RunnerDeps, WAKE_CHANNEL } from '../../src/queue/runner.ts'
import {
  defineTaskHandler,
  type FailureInfo,
  final,
  retryable,
  type TaskContext,
  type TaskHandler,
} from '../../src/queue/types.ts'
import type { Db, Dialect, Notifier } from '../../src/store/db.ts'
import { logEvent } from '../../src/store/events.ts'
import { claimTasks } from '../../src/store/task-claims.ts'
import { enqueueTask, type Task } from '../../src/store/tasks.ts'
import { upsertUser } from '../../src/store/users.ts'
import { registerStop, useCleanup } from '../helpers/cleanup.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { waitWithin } from '../helpers/wait.ts'

/** Conditions here hold within a few hundred ms: a short deadline keeps a mutant's run short under Stryker. */
const waitFor = waitWithin(4000)

type Row = Record<string, any>

interface Gate {
  open: () => void
  opened: Promise<void>
  isOpen: () => boolean
}
/** Every gate made, opened at cleanup: a handler a failed test left waiting must not hold up stop(). */
const allGates = new Set<Gate>()
const gate = (): Gate => {
  let open = () => {}
  let isOpen = false
  const opened = new Promise<void>((resolve) => {
    open = () => {
      isOpen = true
      resolve()
    }
  })
  const g = { open, opened, isOpen: () => isOpen }
  allGates.add(g)
  return g
}

/** Waits for the gate, or throws the abort reason when the worker is told to stop (shutdown, lease lost). */
const until = (g: Gate, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    g.opened.then(resolve)
  })

interface Stmt {
  sql: string
  params: readonly unknown[]
}

/** The runner's view of the database: every statement recorded; claims, renewals and lookups can be made to fail or wait. */
interface SpyDb {
  db: Db
  stmts: Stmt[]
  failClaims: boolean
  failLookups: boolean
  /** Renewals by these owners fail (as if the database were away for this worker). */
  failRenewalsOf: Set<string>
  /** When set, a claim's result is held (the statement already ran) until the gate opens. */
  holdClaims: Gate | null
  heldClaims: number
}

const isClaim = (sql: string) => sql.includes('with next as')
const isRenewal = (sql: string) => sql.includes('set lease_until = $3')
const isLookup = (sql: string) => sql.startsWith('select * from aiprocessingtask where id')
/** A write that decides a task's fate (complete, reschedule, fail), as opposed to a lease renewal. */
const isStatusWrite = (s: Stmt) => /set status = '(completed|pending|failed)'/.test(s.sql)

function spyDb(inner: Db): SpyDb {
  const spy: SpyDb = {
    db: inner,
    stmts: [],
    failClaims: false,
    failLookups: false,
    failRenewalsOf: new Set(),
    holdClaims: null,
    heldClaims: 0,
  }
  const wrap = (db: Db): Db => ({
    dialect: db.dialect,
    async query<R>(sql: string, params: readonly unknown[] = []) {
      spy.stmts.push({ sql, params })
      if (spy.failClaims && isClaim(sql)) throw new AppError('DB_UNAVAILABLE', 'claims are down')
      if (spy.failLookups && isLookup(sql)) throw new Error('lookups are down')
      if (isRenewal(sql) && spy.failRenewalsOf.has(params[1] as string)) throw new Error('renewal is down')
      const rows = await db.query<R>(sql, params)
      if (spy.holdClaims && isClaim(sql)) {
        spy.heldClaims++
        await spy.holdClaims.opened
      }
      return rows
    },
    tx: (fn) => db.tx((tx) => fn(wrap(tx))),
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
  })
  spy.db = wrap(inner)
  return spy
}

/** Status writes about a task by one owner (the fence's second parameter). */
const statusWritesBy = (spy: SpyDb, id: string, owner: string) =>
  spy.stmts.filter((s) => isStatusWrite(s) && s.params[0] === id && s.params[1] === owner)

interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}
const captureLog = () => {
  const lines: LogLine[] = []
  const log = createLogger({
    level: 'debug',
    destination: { write: (l: string) => lines.push(JSON.parse(l)) },
  })
  return {
    log,
    lines,
    msgs: (part: string) => lines.filter((l) => l.msg.includes(part)),
    /** Warnings and errors: none on a normal path (a handler without hooks, a runner without a notifier). */
    troubles: () => lines.filter((l) => l.level >= WARN).map((l) => l.msg),
  }
}
const WARN = 40
const ERROR = 50

const fakeNotifier = (opts: { failListen?: boolean } = {}) => {
  const notified: string[] = []
  const listens: { channel: string; onMessage: (p: string) => void; onReady?: () => void }[] = []
  let unlistened = 0
  const notifier: Notifier = {
    async listen(channel, onMessage, onReady) {
      if (opts.failListen) throw new Error('LISTEN refused')
      listens.push({ channel, onMessage, onReady })
      return async () => {
        unlistened++
      }
    },
    async notify(channel) {
      notified.push(channel)
      // A failed NOTIFY is logged, never thrown at the caller.
      throw new Error('NOTIFY went nowhere')
    },
  }
  return { notifier, notified, listens, unlistened: () => unlistened }
}

const fakeMetrics = () => {
  const tasks: string[] = []
  return {
    metrics: { ...noMetrics, task: (kind: string, outcome: string) => tasks.push(`${kind}:${outcome}`) },
    tasks,
  }
}

for (const dialect of await testDialects()) {
  describe(`queue runner contract (${dialect})`, () => {
    useCleanup()
    let t: TestDb
    let seq = 0
    /** A kind of its own per test: runners of other tests never claim it. */
    const kindOf = (name: string) => `${name}_${++seq}`

    beforeAll(async () => {
      t = await createTestDb(dialect as Dialect, `runner-contract-${dialect}`)
    })
    afterAll(() => t.drop())

    const rowOf = async (id: string) =>
      (await t.store.db.query<Row>('select * from aiprocessingtask where id = $1', [id]))[0]!
    const rowWhen = (id: string, ok: (r: Row) => boolean, what?: string) =>
      waitFor(
        async () => {
          const r = await rowOf(id)
          return ok(r) ? r : null
        },
        { what: what ?? `task ${id}` },
      )
    const time = (v: unknown) => new Date(v as string).getTime()

    function makeRunner(
      handlers: TaskHandler<any>[],
      opts: Partial<Omit<RunnerDeps, 'db' | 'handlers'>> & { spy?: SpyDb } = {},
    ) {
      const spy = opts.spy ?? spyDb(t.store.db)
      const logs = captureLog()
      const m = fakeMetrics()
      const runner = createQueueRunner({
        db: spy.db,
        notifier: null,
        log: logs.log,
        metrics: m.metrics,
        concurrency: 2,
        leaseMs: 5000,
        pollMs: 60_000,
        ...opts,
        handlers,
      })
      registerStop('bot', `queue runner (${handlers.map((h) => h.kind)})`, () => {
        for (const g of allGates) g.open()
        return runner.stop(0)
      })
      return { runner, spy, logs, metricsCalls: m.tasks }
    }

    /** A task stored without waking anyone (another instance's insert). */
    const insertQuiet = (
      kind: string,
      input: unknown,
      extra: { maxAttempts?: number; deadlineAt?: Date } = {},
    ) =>
      enqueueTask(t.store.db, {
        kind,
        input,
        deadlineAt: extra.deadlineAt ?? new Date(Date.now() + 3_600_000),
        maxAttempts: extra.maxAttempts ?? 3,
      }).then((task) => task!)

    test('a task runs once under its own lease; a handler that does not complete is completed for it', async () => {
      const kind = kindOf('plain')
      const seen: { owner: string; row: Row }[] = []
      const completed: Task<{ n: number }>[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(task, ctx) {
          seen.push({ owner: ctx.owner, row: await rowOf(task.id) })
        },
        onCompleted: (task) => void completed.push(task),
      })
      const { runner, spy, metricsCalls, logs } = makeRunner([handler])
      // waitFor must hear of the result from the runner itself, not from its database look-up.
      spy.failLookups = true
      await runner.start()
      expect(runner.stats()).toMatchObject({ size: 2, busy: 0, running: true })
      expect(runner.stats().instance).toMatch(/^[^:]+:\d+:[0-9A-Za-z_-]{6}$/)

      const task = (await runner.enqueue(kind, { n: 1 }))!
      const done = await runner.waitFor(task.id, 3000)
      expect(done).toMatchObject({ id: task.id, status: 'completed', attempts: 1, leaseOwner: null })

      expect(seen).toHaveLength(1)
      const { owner, row } = seen[0]!
      expect(owner).toMatch(new RegExp(`^${runner.stats().instance}/[1-9]\\d*$`))
      expect(row).toMatchObject({ status: 'processing', lease_owner: owner })
      expect(completed.map((c) => [c.id, c.status])).toEqual([[task.id, 'completed']])
      expect(metricsCalls).toEqual([`${kind}:completed`])
      expect(statusWritesBy(spy, task.id, owner)).toHaveLength(1)
      const stored = await rowOf(task.id)
      expect(stored).toMatchObject({ status: 'completed', lease_owner: null, lease_until: null, error: null })
      expect(runner.stats().busy).toBe(0)
      expect(logs.troubles()).toEqual([])
    })

    test('complete(write) stores the write and the completion in one transaction, once', async () => {
      const kind = kindOf('writer')
      const results: (Task | null)[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(task, ctx) {
          results.push(
            await ctx.complete(async (tx) => {
              await logEvent(tx, 'task_failed', null, { marker: `write-${task.id}` })
              return { aiResponse: 'the answer', tokensUsed: 7, responseMessageId: null }
            }),
          )
        },
      })
      const { runner, spy, logs } = makeRunner([handler])
      await runner.start()
      const task = (await runner.enqueue(kind, { n: 1 }))!
      const row = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(row).toMatchObject({ ai_response: 'the answer', lease_owner: null })
      expect(Number(row.tokens_used)).toBe(7)
      await waitFor(() => results.length === 1)
      expect(results[0]).toMatchObject({ id: task.id, status: 'completed', aiResponse: 'the answer' })
      const marks = await t.store.db.query<Row>('select detail from eventlog')
      expect(marks.filter((m) => JSON.stringify(m.detail).includes(`write-${task.id}`))).toHaveLength(1)
      // The handler completed: the runner does not try again. It has no hooks: none is missed.
      expect(spy.stmts.filter((s) => isStatusWrite(s) && s.params[0] === task.id)).toHaveLength(1)
      expect(logs.troubles()).toEqual([])
    })

    test('a handler that throws after completing leaves the completed task as it is, and is no crash', async () => {
      const kind = kindOf('after')
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(_task, ctx) {
          await ctx.complete(async () => ({ aiResponse: 'kept' }))
          throw final(new Error('too late to fail'))
        },
      })
      const { runner, logs, metricsCalls } = makeRunner([handler])
      await runner.start()
      const task = (await runner.enqueue(kind, { n: 1 }))!
      await rowWhen(task.id, (r) => r.status === 'completed')
      await waitFor(() => runner.stats().busy === 0)
      expect(await rowOf(task.id)).toMatchObject({ status: 'completed', ai_response: 'kept', error: null })
      expect(metricsCalls).toEqual([])
      expect(logs.lines.filter((l) => l.level >= ERROR)).toEqual([])
    })

    test('enqueue: unknown kinds are refused; attempts, deadline and options come from the handler and caller', async () => {
      const kind = kindOf('defaults')
      const custom = kindOf('custom')
      const noop = { async run() {} }
      const { runner } = makeRunner([
        defineTaskHandler({ kind, ...noop }),
        defineTaskHandler({ kind: custom, maxAttempts: 5, deadlineMs: 1234, ...noop }),
      ])
      await expect(runner.enqueue('nobody_runs_this', {})).rejects.toThrow(
        'no task handler is registered for kind nobody_runs_this',
      )
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: `u-${kind}` })
      const later = new Date(Date.now() + 600_000)
      const a = (await runner.enqueue(
        kind,
        { x: 1 },
        { userId: user.id, dedupeKey: `k-${kind}`, runAfter: later },
      ))!
      const b = (await runner.enqueue(custom, { x: 2 }))!
      expect(await runner.enqueue(kind, { x: 3 }, { dedupeKey: `k-${kind}` })).toBeNull()
      const ra = await rowOf(a.id)
      const rb = await rowOf(b.id)
      expect(ra).toMatchObject({ kind, status: 'pending', user_id: user.id, dedupe_key: `k-${kind}` })
      expect(time(ra.run_after)).toBe(later.getTime())
      expect(Number(ra.max_attempts)).toBe(3)
      expect(time(ra.deadline_at) - time(ra.created_at)).toBe(3_600_000)
      expect(Number(rb.max_attempts)).toBe(5)
      expect(time(rb.deadline_at) - time(rb.created_at)).toBe(1234)
    })

    test('a retryable failure is rescheduled with its reason and the handler backoff, then woken by its timer', async () => {
      const kind = kindOf('retry')
      const calls: number[] = []
      const retries: { runAfter: Date; reason: string }[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        maxAttempts: 3,
        backoffMs: () => 80,
        async run(task) {
          calls.push(task.attempts)
          if (task.attempts === 1) throw retryable(new Error('busy'))
        },
        onRetry: (_task, info) => void retries.push(info),
      })
      // The poll is a minute away: only the retry timer can start attempt 2.
      const { runner, spy, metricsCalls } = makeRunner([handler])
      await runner.start()
      const before = Date.now()
      const task = (await runner.enqueue(kind, { n: 1 }))!
      const done = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(Number(done.attempts)).toBe(2)
      expect(calls).toEqual([1, 2])
      const resched = spy.stmts.filter(
        (s) => s.sql.includes("set status = 'pending'") && s.params[0] === task.id,
      )
      expect(resched).toHaveLength(1)
      const [, , runAfter, reason, now] = resched[0]!.params as [string, string, Date, string, Date]
      expect(reason).toBe('busy')
      expect(now.getTime()).toBeGreaterThanOrEqual(before)
      // runAfter is taken just before the statement's own clock.
      expect(runAfter.getTime() - now.getTime()).toBeLessThanOrEqual(80)
      expect(runAfter.getTime() - now.getTime()).toBeGreaterThan(80 - 50)
      expect(retries).toEqual([{ runAfter, reason: 'busy' }])
      expect(metricsCalls).toEqual([`${kind}:retried`, `${kind}:completed`])
    })

    test('the default backoff is capped by the deadline while it is ahead, and not once it has passed', async () => {
      const kind = kindOf('capped')
      const handler = defineTaskHandler<{ retryAfterMs: number | null }>({
        kind,
        maxAttempts: 2,
        async run(task) {
          throw retryable(new Error('later'), task.input.retryAfterMs)
        },
      })
      const { runner, spy } = makeRunner([handler])
      await runner.start()
      const ahead = await insertQuiet(
        kind,
        { retryAfterMs: 20_000 },
        { deadlineAt: new Date(Date.now() + 400) },
      )
      const passed = await insertQuiet(
        kind,
        { retryAfterMs: 20_000 },
        { deadlineAt: new Date(Date.now() - 1000) },
      )
      const plain = await insertQuiet(kind, { retryAfterMs: null })
      runner.wake()
      const firstReschedule = (id: string) =>
        waitFor(() => spy.stmts.find((s) => s.sql.includes("set status = 'pending'") && s.params[0] === id))
      const delay = async (id: string) => {
        const { params } = await firstReschedule(id)
        return { runAfter: (params[2] as Date).getTime(), now: (params[4] as Date).getTime() }
      }
      const a = await delay(ahead.id)
      expect(a.runAfter).toBeGreaterThanOrEqual(ahead.deadlineAt.getTime())
      expect(a.runAfter).toBeLessThan(ahead.deadlineAt.getTime() + 100)
      const p = await delay(passed.id)
      expect(p.runAfter - p.now).toBeLessThanOrEqual(20_000)
      expect(p.runAfter - p.now).toBeGreaterThan(20_000 - 50)
      // Exponential backoff of the first attempt: 125–250 ms.
      const q = await delay(plain.id)
      expect(q.runAfter - q.now).toBeLessThanOrEqual(250)
      expect(q.runAfter - q.now).toBeGreaterThan(125 - 50)
    })

    test('when attempts run out the task fails with its reason, a task_failed event and onFailed', async () => {
      const kind = kindOf('flaky')
      const failed: Task<{ n: number }>[] = []
      const backgroundRan: string[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        maxAttempts: 2,
        backoffMs: () => 10,
        async run() {
          throw retryable(new Error('flaky'))
        },
        onFailed(task, ctx) {
          failed.push(task)
          // Tracked by the runner: its failure is logged, never thrown.
          ctx.background(Promise.reject(new Error('alert not sent')))
          backgroundRan.push(task.id)
        },
      })
      const { runner, spy, metricsCalls, logs } = makeRunner([handler])
      spy.failLookups = true
      await runner.start()
      const { user } = await upsertUser(t.store.db, { botId: 'b', kakaoUserId: `u-${kind}` })
      const task = (await runner.enqueue(kind, { n: 1 }, { userId: user.id }))!
      const done = await runner.waitFor(task.id, 3000)
      expect(done).toMatchObject({ status: 'failed', error: 'flaky', attempts: 2 })
      const row = await rowOf(task.id)
      expect(row).toMatchObject({ status: 'failed', error: 'flaky', lease_owner: null })
      expect(row.completed_at).not.toBeNull()
      expect(Number(row.attempts)).toBe(2)
      const events = await t.store.db.query<Row>(
        "select user_id, detail from eventlog where type = 'task_failed'",
      )
      const mine = events.filter((e) => JSON.stringify(e.detail).includes(task.id))
      expect(mine).toHaveLength(1)
      expect(mine[0]!.user_id).toBe(user.id)
      const detail = typeof mine[0]!.detail === 'string' ? JSON.parse(mine[0]!.detail) : mine[0]!.detail
      expect(detail).toEqual({ task_id: task.id, reason: 'flaky', attempts: 2 })
      expect(failed.map((f) => [f.id, f.status])).toEqual([[task.id, 'failed']])
      expect(backgroundRan).toEqual([task.id])
      await waitFor(() => logs.msgs('background work of a task failed').length === 1)
      expect(metricsCalls).toEqual([`${kind}:retried`, `${kind}:failed`])
      // No onRetry: none is missed. (The failure itself is logged as an error.)
      expect(logs.troubles()).toEqual([
        'attempt failed; retrying',
        'task failed',
        'background work of a task failed',
      ])
    })

    test('a final error fails at once; a handler classify overrides the default', async () => {
      const kind = kindOf('final')
      const own = kindOf('classified')
      const calls: string[] = []
      const finalHandler = defineTaskHandler<{ n: number }>({
        kind,
        async run(task) {
          calls.push(task.kind)
          throw final(new Error('bad input'))
        },
      })
      const classified = defineTaskHandler<{ n: number }>({
        kind: own,
        async run(task) {
          calls.push(task.kind)
          throw retryable(new Error('looks retryable'))
        },
        classify: (err): FailureInfo => ({
          retryable: false,
          retryAfterMs: null,
          reason: `classified: ${(err as Error).message}`,
        }),
      })
      const { runner, metricsCalls, logs } = makeRunner([finalHandler, classified])
      await runner.start()
      const a = (await runner.enqueue(kind, { n: 1 }))!
      const b = (await runner.enqueue(own, { n: 1 }))!
      const ra = await rowWhen(a.id, (r) => r.status === 'failed')
      const rb = await rowWhen(b.id, (r) => r.status === 'failed')
      expect(ra).toMatchObject({ error: 'bad input' })
      expect(rb).toMatchObject({ error: 'classified: looks retryable' })
      expect([Number(ra.attempts), Number(rb.attempts)]).toEqual([1, 1])
      expect(calls.sort()).toEqual([kind, own].sort())
      expect(metricsCalls.sort()).toEqual([`${kind}:failed`, `${own}:failed`].sort())
      // No onFailed: none is missed.
      expect(logs.msgs('task crashed')).toEqual([])
    })

    test('a task whose attempts were used up by lost workers fails without running; the last attempt still runs', async () => {
      const kind = kindOf('spent')
      const calls: number[] = []
      const failed: string[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(task) {
          calls.push(task.input.n)
        },
        onFailed: (task) => void failed.push(task.id),
      })
      const spent = await insertQuiet(kind, { n: 1 }, { maxAttempts: 1 })
      // Its one attempt's worker died: processing under a lease that ran out.
      await t.store.db.query(
        "update aiprocessingtask set status = 'processing', attempts = 1, lease_owner = 'dead/1', lease_until = $2 where id = $1",
        [spent.id, new Date(Date.now() - 1000)],
      )
      const last = await insertQuiet(kind, { n: 2 }, { maxAttempts: 1 })
      const { runner, metricsCalls } = makeRunner([handler])
      await runner.start()
      const rs = await rowWhen(spent.id, (r) => r.status === 'failed')
      expect(rs).toMatchObject({ error: 'gave up after 1 attempts (workers were lost)', lease_owner: null })
      expect(Number(rs.attempts)).toBe(2)
      const rl = await rowWhen(last.id, (r) => r.status === 'completed')
      expect(Number(rl.attempts)).toBe(1)
      expect(calls).toEqual([2])
      expect(failed).toEqual([spent.id])
      expect(metricsCalls.sort()).toEqual([`${kind}:completed`, `${kind}:failed`])
    })

    test('lease lost while the handler runs: its signal aborts and it writes nothing about the task', async () => {
      const kind = kindOf('lost')
      const gates = new Map<string, Gate>()
      const ctxs = new Map<string, TaskContext>()
      const outcome = new Map<string, unknown>()
      const writes: string[] = []
      const hooks: string[] = []
      const handler = defineTaskHandler<{ mode: 'complete' | 'throw' }>({
        kind,
        async run(task, ctx) {
          ctxs.set(task.id, ctx)
          // The runner may claim the task (its poll) before the test has made its gate.
          await (await waitFor(() => gates.get(task.id), { what: 'the gate' })).opened
          if (task.input.mode === 'throw') {
            outcome.set(task.id, 'threw')
            throw retryable(new Error('failed after losing the lease'))
          }
          outcome.set(
            task.id,
            await ctx.complete(async () => {
              writes.push(task.id)
              return {}
            }),
          )
        },
        onRetry: (task) => void hooks.push(`retry ${task.id}`),
        onFailed: (task) => void hooks.push(`failed ${task.id}`),
        onCompleted: (task) => void hooks.push(`completed ${task.id}`),
      })
      // Renewed every 100 ms: the loss is seen by the renewal, while the handler still works.
      const { runner, spy, metricsCalls } = makeRunner([handler], { leaseMs: 300 })
      await runner.start()
      const tasks = [
        (await insertQuiet(kind, { mode: 'complete' })).id,
        (await insertQuiet(kind, { mode: 'throw' })).id,
      ]
      for (const id of tasks) gates.set(id, gate())
      runner.wake()
      await waitFor(() => tasks.every((id) => ctxs.has(id)))
      const stolenUntil = new Date(Date.now() + 60_000)
      for (const id of tasks) {
        await t.store.db.query(
          "update aiprocessingtask set lease_owner = 'thief/1', lease_until = $2 where id = $1",
          [id, stolenUntil],
        )
      }
      for (const id of tasks) {
        const signal = ctxs.get(id)!.signal
        await waitFor(() => signal.aborted, { what: 'the abort on lease loss' })
        expect((signal.reason as Error).message).toBe('lease lost')
        gates.get(id)!.open()
      }
      await waitFor(() => outcome.size === 2 && runner.stats().busy === 0)
      expect(outcome.get(tasks[0]!)).toBeNull()
      expect(writes).toEqual([])
      for (const id of tasks) {
        expect(statusWritesBy(spy, id, ctxs.get(id)!.owner)).toEqual([])
        const row = await rowOf(id)
        expect(row).toMatchObject({
          status: 'processing',
          lease_owner: 'thief/1',
          error: null,
          completed_at: null,
        })
        expect(Number(row.attempts)).toBe(1)
      }
      expect(hooks).toEqual([])
      expect(metricsCalls).toEqual([])
    })

    test('a lease taken over unseen (long lease) is caught by the fence: the write is rolled back, no retry or failure', async () => {
      const kind = kindOf('fenced')
      const gates = new Map<string, Gate>()
      const started = new Set<string>()
      const outcome = new Map<string, unknown>()
      const hooks: string[] = []
      const handler = defineTaskHandler<{ mode: 'complete' | 'retry' | 'final' | 'complete-then-throw' }>({
        kind,
        async run(task, ctx) {
          started.add(task.id)
          // The runner may claim the task (its poll) before the test has made its gate.
          await (await waitFor(() => gates.get(task.id), { what: 'the gate' })).opened
          if (task.input.mode === 'retry') throw retryable(new Error('again'))
          if (task.input.mode === 'final') throw final(new Error('never'))
          outcome.set(
            task.id,
            await ctx.complete(async (tx) => {
              await logEvent(tx, 'task_failed', null, { marker: `fenced-${task.id}` })
              return { aiResponse: 'too late' }
            }),
          )
          // A handler that fails after its completion was refused: still no write, and no crash.
          if (task.input.mode === 'complete-then-throw') throw retryable(new Error('and then'))
        },
        onRetry: (task) => void hooks.push(`retry ${task.id}`),
        onFailed: (task) => void hooks.push(`failed ${task.id}`),
        onCompleted: (task) => void hooks.push(`completed ${task.id}`),
      })
      const { runner, metricsCalls, logs } = makeRunner([handler], { leaseMs: 30_000, concurrency: 4 })
      await runner.start()
      const ids = [
        (await insertQuiet(kind, { mode: 'complete' })).id,
        (await insertQuiet(kind, { mode: 'retry' })).id,
        (await insertQuiet(kind, { mode: 'final' })).id,
        (await insertQuiet(kind, { mode: 'complete-then-throw' })).id,
      ]
      for (const id of ids) gates.set(id, gate())
      runner.wake()
      await waitFor(() => ids.every((id) => started.has(id)))
      for (const id of ids) {
        await t.store.db.query("update aiprocessingtask set lease_owner = 'thief/2' where id = $1", [id])
        gates.get(id)!.open()
      }
      await waitFor(() => outcome.size === 2 && runner.stats().busy === 0)
      expect(outcome.get(ids[0]!)).toBeNull()
      expect(outcome.get(ids[3]!)).toBeNull()
      const marks = await t.store.db.query<Row>('select detail from eventlog')
      expect(marks.filter((m) => JSON.stringify(m.detail).includes(`fenced-${ids[0]}`))).toEqual([])
      for (const id of ids) {
        expect(await rowOf(id)).toMatchObject({ status: 'processing', lease_owner: 'thief/2', error: null })
      }
      expect(hooks).toEqual([])
      expect(metricsCalls).toEqual([])
      expect(logs.msgs('task crashed')).toEqual([])
    })

    test('an error while completing is not the handler failure: the task stays leased and runs again after its lease', async () => {
      const kind = kindOf('completing')
      const attempts: { id: string; attempt: number; owner: string }[] = []
      const seenErrors: string[] = []
      const hooks: string[] = []
      const handler = defineTaskHandler<{ err: 'plain' | 'db' }>({
        kind,
        async run(task, ctx) {
          attempts.push({ id: task.id, attempt: task.attempts, owner: ctx.owner })
          if (task.attempts > 1) return
          try {
            await ctx.complete(async () => {
              throw task.input.err === 'db'
                ? new AppError('DB_UNAVAILABLE', 'the database went away')
                : new Error('the write broke')
            })
          } catch (err) {
            seenErrors.push((err as Error).message)
            throw err
          }
          seenErrors.push('complete did not throw')
        },
        onRetry: (task) => void hooks.push(`retry ${task.id}`),
        onFailed: (task) => void hooks.push(`failed ${task.id}`),
      })
      const { runner, spy, logs } = makeRunner([handler], { leaseMs: 300, pollMs: 50 })
      await runner.start()
      const plain = (await runner.enqueue(kind, { err: 'plain' }))!
      const db = (await runner.enqueue(kind, { err: 'db' }))!
      await waitFor(() => seenErrors.length === 2 && runner.stats().busy === 0)
      expect(seenErrors.sort()).toEqual(['the database went away', 'the write broke'])
      for (const id of [plain.id, db.id]) {
        const first = attempts.find((a) => a.id === id && a.attempt === 1)!
        const row = await rowOf(id)
        if (row.status === 'processing' && row.lease_owner === first.owner) expect(row.error).toBeNull()
        expect(
          spy.stmts.filter((s) => isStatusWrite(s) && s.params[0] === id && s.params[1] === first.owner),
        ).toEqual([])
      }
      expect(logs.msgs('task crashed').map((l) => l.level)).toEqual([ERROR])
      expect(logs.msgs('database unavailable').map((l) => l.level)).toEqual([WARN])
      // The lease runs out (no more renewals) and the poll takes the task up again.
      for (const id of [plain.id, db.id]) {
        const row = await rowWhen(id, (r) => r.status === 'completed')
        expect(Number(row.attempts)).toBe(2)
        expect(row.error).toBeNull()
      }
      expect(hooks).toEqual([])
    })

    test('our own re-claim of a task whose renewals failed aborts the old attempt; the new one owns the slot', async () => {
      const kind = kindOf('reclaim')
      const gates = [gate(), gate()]
      const ctxs: TaskContext[] = []
      const outcomes: unknown[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(task, ctx) {
          const i = ctxs.push(ctx) - 1
          await gates[i]!.opened
          outcomes[i] = await ctx.complete(async () => ({ aiResponse: `attempt ${task.attempts}` }))
        },
      })
      const spy = spyDb(t.store.db)
      // Two slots: the stale attempt still holds one while the task is claimed again.
      const { runner } = makeRunner([handler], { leaseMs: 300, pollMs: 50, concurrency: 2, spy })
      await runner.start()
      const task = (await runner.enqueue(kind, { n: 1 }))!
      await waitFor(() => ctxs.length === 1)
      spy.failRenewalsOf.add(ctxs[0]!.owner)
      // The first lease runs out unrenewed; the poll claims the task again, for a new owner, in the same slot.
      await waitFor(() => ctxs.length === 2, { what: 'the second attempt' })
      expect(ctxs[0]!.signal.aborted).toBe(true)
      expect((ctxs[0]!.signal.reason as Error).message).toBe('lease lost')
      expect(ctxs[1]!.owner).not.toBe(ctxs[0]!.owner)
      expect(runner.stats().busy).toBe(1)
      gates[0]!.open()
      await waitFor(() => outcomes.length === 1)
      expect(outcomes[0]).toBeNull()
      // The old attempt ended; the slot still belongs to the new one.
      expect(runner.stats().busy).toBe(1)
      expect(ctxs[1]!.signal.aborted).toBe(false)
      gates[1]!.open()
      const row = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(row).toMatchObject({ ai_response: 'attempt 2' })
      expect(Number(row.attempts)).toBe(2)
      expect(outcomes[1]).toMatchObject({ status: 'completed' })
    })

    test('never more than `concurrency` at once; a freed slot is filled at once, without the poll', async () => {
      const kind = kindOf('slots')
      let now = 0
      let max = 0
      const release = gate()
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run() {
          now++
          max = Math.max(max, now)
          await release.opened
          now--
        },
      })
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await insertQuiet(kind, { n: i })).id)
      const { runner, spy } = makeRunner([handler], { concurrency: 2 })
      await runner.start()
      await waitFor(() => now === 2)
      expect(runner.stats().busy).toBe(2)
      // Full: no claiming until a slot is free (the poll is a minute away). The short wait proves an absence.
      const claims = spy.stmts.filter((s) => isClaim(s.sql)).length
      await Bun.sleep(50)
      expect(spy.stmts.filter((s) => isClaim(s.sql)).length).toBe(claims)
      const rows = await Promise.all(ids.map(rowOf))
      expect(rows.filter((r) => r.status === 'processing')).toHaveLength(2)
      release.open()
      for (const id of ids) await rowWhen(id, (r) => r.status === 'completed')
      expect(max).toBe(2)
    })

    test('wake-ups: pending work at start, a NOTIFY, a reconnect and the poll each lead to a claim', async () => {
      const kind = kindOf('woken')
      const ran: number[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(task) {
          ran.push(task.input.n)
        },
      })
      const fake = fakeNotifier()
      const before = await insertQuiet(kind, { n: 0 })
      const { runner } = makeRunner([handler], { notifier: fake.notifier })
      await runner.start()
      await runner.start()
      // The channel name is shared with every other instance (and older versions): it is part of the contract.
      expect(fake.listens.map((l) => l.channel)).toEqual(['kbot_wake'])
      await rowWhen(before.id, (r) => r.status === 'completed', 'the task that was waiting at start')
      const listen = fake.listens[0]!
      const viaNotify = await insertQuiet(kind, { n: 1 })
      listen.onMessage('')
      await rowWhen(viaNotify.id, (r) => r.status === 'completed', 'the task announced by NOTIFY')
      const viaReady = await insertQuiet(kind, { n: 2 })
      listen.onReady!()
      await rowWhen(viaReady.id, (r) => r.status === 'completed', 'the task caught up on after a reconnect')
      expect(ran).toEqual([0, 1, 2])
      // Free slots: an enqueue is claimed here, no other instance is woken.
      const local = (await runner.enqueue(kind, { n: 3 }))!
      await rowWhen(local.id, (r) => r.status === 'completed')
      expect(fake.notified).toEqual([])
      expect(runner.notifyChannel!()).toBeNull()
      await runner.stop(0)
      expect(fake.unlistened()).toBe(1)

      // A LISTEN that fails leaves the poll, which still finds the work.
      const deaf = fakeNotifier({ failListen: true })
      const polled = makeRunner([handler], { notifier: deaf.notifier, pollMs: 30 })
      await polled.runner.start()
      const viaPoll = await insertQuiet(kind, { n: 4 })
      await rowWhen(viaPoll.id, (r) => r.status === 'completed', 'the task found by the poll')
      expect(polled.logs.msgs('LISTEN failed')).toHaveLength(1)
    })

    test('a full instance (or one without workers) wakes the others by NOTIFY, at most once per few ms', async () => {
      const kind = kindOf('full')
      const noop = defineTaskHandler({ kind, async run() {} })
      // No workers and no notifier: enqueue still works and leaves the task for others.
      const lone = makeRunner([noop], { concurrency: 0 })
      await lone.runner.start()
      expect(lone.runner.notifyChannel!()).toBeNull()
      const left = (await lone.runner.enqueue(kind, {}))!
      expect((await rowOf(left.id)).status).toBe('pending')

      const fake = fakeNotifier()
      const none = makeRunner([noop], { concurrency: 0, notifier: fake.notifier })
      await none.runner.start()
      expect(fake.listens).toEqual([])
      none.runner.wake()
      expect(fake.notified).toEqual(['kbot_wake'])
      none.runner.wake()
      none.runner.wake()
      await waitFor(() => fake.notified.length === 2, { what: 'the throttled second NOTIFY' })
      // (Proves the absence of a third: the throttle's timer is 5 ms.)
      await Bun.sleep(40)
      expect(fake.notified).toHaveLength(2)
      expect(none.logs.msgs('NOTIFY failed')).toHaveLength(2)

      // A duplicate enqueue (nothing inserted) wakes nobody.
      await none.runner.enqueue(kind, {}, { dedupeKey: `once-${kind}` })
      await waitFor(() => fake.notified.length === 3)
      expect(await none.runner.enqueue(kind, {}, { dedupeKey: `once-${kind}` })).toBeNull()
      await Bun.sleep(40)
      expect(fake.notified).toHaveLength(3)

      // notifyChannel: the channel for a statement to NOTIFY in, at most once per few ms.
      const quiet = fakeNotifier()
      const other = makeRunner([noop], { concurrency: 0, notifier: quiet.notifier })
      expect(other.runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      expect(other.runner.notifyChannel!()).toBeNull()
      // Workers, but not started (or stopped): the others should take it.
      const idle = makeRunner([noop], { concurrency: 2, notifier: fakeNotifier().notifier })
      expect(idle.runner.notifyChannel!()).toBe(WAKE_CHANNEL)

      // A busy instance with a notifier: a second task goes to the others.
      const hold = gate()
      const busyKind = kindOf('busy')
      const slow = defineTaskHandler({
        kind: busyKind,
        async run(_t, ctx) {
          await until(hold, ctx.signal)
        },
      })
      const busyFake = fakeNotifier()
      const busy = makeRunner([slow], { concurrency: 1, notifier: busyFake.notifier })
      await busy.runner.start()
      const first = (await busy.runner.enqueue(busyKind, {}))!
      await rowWhen(first.id, (r) => r.status === 'processing')
      expect(busyFake.notified).toEqual([])
      expect(busy.runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      await busy.runner.enqueue(busyKind, {})
      await waitFor(() => busyFake.notified.length === 1)
      hold.open()
    })

    test('a full instance: a task an ack committed without a NOTIFY rides on the next ack’s, else gets its own', async () => {
      const noop = defineTaskHandler({ kind: kindOf('carried'), async run() {} })
      const fake = fakeNotifier()
      const { runner } = makeRunner([noop], { concurrency: 0, notifier: fake.notifier })
      await runner.start()
      // Ack 1 carries the NOTIFY; ack 2, right after, may not (the throttle) and commits unannounced.
      const at1 = performance.now()
      expect(runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      runner.committed!(at1)
      expect(runner.notifyChannel!()).toBeNull()
      runner.committed!(null)
      expect(fake.notified).toEqual([])
      // Ack 3 takes the channel although the throttle says no (a task waits for it); its commit covers ack 2's.
      const at3 = performance.now()
      expect(runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      runner.committed!(at3)
      // (Proves the absence of a NOTIFY of its own: it would go 20 ms after ack 2.)
      await Bun.sleep(60)
      expect(fake.notified).toEqual([])

      // A task committed after the carrier took the channel is not covered by it: it keeps its own NOTIFY.
      const at4 = performance.now()
      expect(runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      expect(runner.notifyChannel!()).toBeNull()
      runner.committed!(null)
      runner.committed!(at4)
      await waitFor(() => fake.notified.length === 1, { what: 'the NOTIFY of the uncovered task' })
      // Two unannounced tasks, the second committed after the carrier took the channel: the pending NOTIFY
      // stays for the second one.
      await Bun.sleep(10)
      const at5 = performance.now()
      expect(runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      runner.committed!(null)
      const at6 = performance.now()
      expect(runner.notifyChannel!()).toBe(WAKE_CHANNEL)
      runner.committed!(null)
      runner.committed!(at6)
      await waitFor(() => fake.notified.length === 2, { what: 'the NOTIFY of the task after the carrier' })
      runner.committed!(at5)
      // An unannounced task with no ack after it: its own NOTIFY, once.
      runner.committed!(null)
      await waitFor(() => fake.notified.length === 3, { what: 'the NOTIFY of the last task' })
      await Bun.sleep(60)
      expect(fake.notified).toHaveLength(3)
      await runner.stop(1000)
    })

    test('an instance with a free slot: a committed task wakes its own workers, nobody else', async () => {
      const kind = kindOf('own')
      const handler = defineTaskHandler({ kind, async run() {} })
      const fake = fakeNotifier()
      const before = await insertQuiet(kind, {})
      const { runner } = makeRunner([handler], { notifier: fake.notifier })
      await runner.start()
      await rowWhen(before.id, (r) => r.status === 'completed', 'the task that was waiting at start')
      expect(runner.notifyChannel!()).toBeNull()
      const task = await insertQuiet(kind, {})
      runner.committed!(null)
      await rowWhen(task.id, (r) => r.status === 'completed', 'the task the commit woke a worker for')
      expect(fake.notified).toEqual([])
      await runner.stop(1000)
    })

    test('a wake-up during a claim round is not lost: one more round follows', async () => {
      const kind = kindOf('coalesce')
      const handler = defineTaskHandler<{ n: number }>({ kind, async run() {} })
      const spy = spyDb(t.store.db)
      spy.holdClaims = gate()
      const { runner } = makeRunner([handler], { spy })
      await runner.start()
      // The first round's claim ran (and found nothing) but has not returned yet.
      await waitFor(() => spy.heldClaims === 1)
      const task = (await runner.enqueue(kind, { n: 1 }))!
      const held = spy.holdClaims
      spy.holdClaims = null
      held.open()
      await rowWhen(task.id, (r) => r.status === 'completed', 'the task woken during the held round')
    })

    test('claiming while the database is down: no crash, one warning, the poll resumes when it is back', async () => {
      const kind = kindOf('down')
      const handler = defineTaskHandler<{ n: number }>({ kind, async run() {} })
      const spy = spyDb(t.store.db)
      spy.failClaims = true
      const { runner, logs } = makeRunner([handler], { spy, pollMs: 20 })
      await runner.start()
      const task = await insertQuiet(kind, { n: 1 })
      await waitFor(() => spy.stmts.filter((s) => isClaim(s.sql)).length >= 3)
      expect(logs.msgs('claiming tasks failed').map((l) => l.level)).toEqual([WARN])
      expect((await rowOf(task.id)).status).toBe('pending')
      spy.failClaims = false
      await rowWhen(task.id, (r) => r.status === 'completed')
    })

    test('stop: running tasks finish within the grace; the rest are aborted and released, uncounted, unwritten', async () => {
      const kind = kindOf('stop')
      const gates = new Map<string, Gate>()
      const ctxs = new Map<string, TaskContext>()
      const order: string[] = []
      const handler = defineTaskHandler<{ name: string }>({
        kind,
        async run(task, ctx) {
          ctxs.set(task.input.name, ctx)
          try {
            await until(gates.get(task.input.name)!, ctx.signal)
            if (task.input.name === 'failing') throw retryable(new Error('failed during the grace'))
          } finally {
            order.push(`${task.input.name} ended`)
          }
        },
      })
      const fake = fakeNotifier()
      const { runner, spy, metricsCalls, logs } = makeRunner([handler], {
        notifier: fake.notifier,
        leaseMs: 300,
        concurrency: 4,
      })
      await runner.stop(0) // not started: nothing to do
      await runner.start()
      for (const name of ['quick', 'stuck', 'failing', 'late']) gates.set(name, gate())
      const quick = (await runner.enqueue(kind, { name: 'quick' }))!
      const stuck = (await runner.enqueue(kind, { name: 'stuck' }))!
      const failing = (await runner.enqueue(kind, { name: 'failing' }))!
      await waitFor(() => ctxs.size === 3)
      const stopping = runner.stop(300).then(() => order.push('stopped'))
      expect(runner.stats().running).toBe(false)
      // While stopping nothing new is claimed, whatever wakes it (a slot is free); others are told instead.
      const late = await insertQuiet(kind, { name: 'late' })
      fake.listens[0]!.onMessage('')
      runner.wake()
      expect(fake.notified).toEqual(['kbot_wake'])
      gates.get('quick')!.open()
      gates.get('failing')!.open()
      await stopping
      expect(order).toEqual(['quick ended', 'failing ended', 'stuck ended', 'stopped'])
      expect((ctxs.get('stuck')!.signal.reason as Error).message).toBe('shutdown')
      expect(ctxs.get('quick')!.signal.aborted).toBe(false)
      expect(await rowOf(quick.id)).toMatchObject({ status: 'completed' })
      // A task that failed within the grace is retried as usual (not left leased, not released).
      const retried = await rowOf(failing.id)
      expect(retried).toMatchObject({
        status: 'pending',
        lease_owner: null,
        error: 'failed during the grace',
      })
      expect(Number(retried.attempts)).toBe(1)
      const released = await rowOf(stuck.id)
      expect(released).toMatchObject({ status: 'pending', lease_owner: null, error: null })
      expect(Number(released.attempts)).toBe(0)
      const stuckOwner = ctxs.get('stuck')!.owner
      expect(statusWritesBy(spy, stuck.id, stuckOwner)).toEqual([])
      expect(metricsCalls.sort()).toEqual([`${kind}:completed`, `${kind}:retried`])
      expect(logs.msgs('shutdown grace period over').map((l) => l.released)).toEqual([1])
      expect(fake.unlistened()).toBe(1)
      expect(runner.stats()).toMatchObject({ busy: 0, running: false })
      // Stopped: a late announcement claims nothing, and new work is left for others.
      const claims = spy.stmts.filter((s) => isClaim(s.sql)).length
      fake.listens[0]!.onMessage('')
      const after = (await runner.enqueue(kind, { name: 'after' }))!
      await waitFor(() => fake.notified.length === 2)
      await Bun.sleep(30)
      expect(spy.stmts.filter((s) => isClaim(s.sql)).length).toBe(claims)
      expect(ctxs.has('late')).toBe(false)
      expect((await rowOf(late.id)).status).toBe('pending')
      expect((await rowOf(after.id)).status).toBe('pending')
      await runner.stop(0)
    })

    test('stop leaves no timer behind (poll, retry wake-up, NOTIFY throttle): a stopped worker lets the process exit', async () => {
      const kind = kindOf('timers')
      const hold = gate()
      const handler = defineTaskHandler<{ mode: 'retry' | 'hold' }>({
        kind,
        backoffMs: () => 30_000,
        async run(task, ctx) {
          if (task.input.mode === 'retry') throw retryable(new Error('much later'))
          await until(hold, ctx.signal)
        },
      })
      // Timers the runner itself sets (a stack through src/queue/runner.ts), until they fire or are cleared.
      const live = new Map<unknown, string>()
      const real = { setInterval, clearInterval, setTimeout, clearTimeout }
      const ours = () => new Error().stack!.includes('queue/runner.ts')
      globalThis.setInterval = ((fn: () => void, ms?: number) => {
        const h = real.setInterval(fn, ms)
        if (ours()) live.set(h, 'interval')
        return h
      }) as typeof setInterval
      globalThis.setTimeout = ((fn: () => void, ms?: number) => {
        const h = real.setTimeout(() => {
          live.delete(h)
          fn()
        }, ms)
        if (ours()) live.set(h, 'timeout')
        return h
      }) as typeof setTimeout
      globalThis.clearInterval = ((h: Parameters<typeof clearInterval>[0]) => {
        live.delete(h)
        real.clearInterval(h)
      }) as typeof clearInterval
      globalThis.clearTimeout = ((h: Parameters<typeof clearTimeout>[0]) => {
        live.delete(h)
        real.clearTimeout(h)
      }) as typeof clearTimeout
      try {
        const fake = fakeNotifier()
        const { runner } = makeRunner([handler], { concurrency: 2, notifier: fake.notifier, leaseMs: 300 })
        await runner.start()
        const retry = (await runner.enqueue(kind, { mode: 'retry' }))!
        await rowWhen(retry.id, (r) => r.status === 'pending' && r.error !== null)
        await runner.enqueue(kind, { mode: 'hold' })
        await runner.enqueue(kind, { mode: 'hold' })
        await waitFor(() => runner.stats().busy === 2)
        // Full: the first wake NOTIFYs at once, the second is throttled to a timer that stop() must clear.
        runner.wake()
        runner.wake()
        expect(fake.notified).toHaveLength(1)
        expect([...live.values()].sort()).toEqual(['interval', 'interval', 'interval', 'timeout', 'timeout'])
        await runner.stop(0)
        await Bun.sleep(20)
        expect([...live.values()]).toEqual([])
        expect(fake.notified).toHaveLength(1)
      } finally {
        Object.assign(globalThis, real)
      }
    })

    if (dialect === 'postgres') {
      test('real LISTEN/NOTIFY: an instance without workers wakes one that has them, with no poll', async () => {
        const kind = kindOf('notified')
        const ran: string[] = []
        const handler = defineTaskHandler<{ n: number }>({
          kind,
          async run(task) {
            ran.push(task.id)
          },
        })
        const notifier = t.store.notifier!
        const worker = makeRunner([handler], { notifier, concurrency: 1 })
        const front = makeRunner([handler], { notifier, concurrency: 0 })
        await worker.runner.start()
        await front.runner.start()
        const task = (await front.runner.enqueue(kind, { n: 1 }))!
        await rowWhen(task.id, (r) => r.status === 'completed', 'the task claimed after NOTIFY')
        expect(ran).toEqual([task.id])
      })
    }

    test('the lease is renewed every third of its length while the handler runs longer than the lease', async () => {
      const kind = kindOf('renewed')
      const hold = gate()
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(_task, ctx) {
          await until(hold, ctx.signal)
        },
      })
      const { runner } = makeRunner([handler], { leaseMs: 600 })
      await runner.start()
      const task = (await runner.enqueue(kind, { n: 1 }))!
      const first = await rowWhen(task.id, (r) => r.status === 'processing')
      const firstUntil = time(first.lease_until)
      // A thief tries all along, until well past the first lease: the lease never runs out under it.
      while (Date.now() < firstUntil + 300) {
        expect(
          await claimTasks(t.store.db, { owner: 'thief/3', limit: 10, leaseMs: 1000, kinds: [kind] }),
        ).toEqual([])
        await Bun.sleep(20)
      }
      const later = await rowOf(task.id)
      expect(later).toMatchObject({ status: 'processing', lease_owner: first.lease_owner })
      expect(time(later.lease_until)).toBeGreaterThan(firstUntil)
      hold.open()
      const done = await rowWhen(task.id, (r) => r.status === 'completed')
      expect(Number(done.attempts)).toBe(1)
    })

    test('stop waits (at least a second) for background work, and a failed one is only logged', async () => {
      const kind = kindOf('background')
      const bg = gate()
      const order: string[] = []
      const handler = defineTaskHandler<{ n: number }>({
        kind,
        async run(_task, ctx) {
          ctx.background(Promise.reject(new Error('callback POST failed')))
          ctx.background(bg.opened.then(() => void order.push('background done')))
        },
      })
      const { runner, logs } = makeRunner([handler])
      await runner.start()
      const task = (await runner.enqueue(kind, { n: 1 }))!
      await rowWhen(task.id, (r) => r.status === 'completed')
      const stopped = runner.stop(0).then(() => order.push('stopped'))
      // Well inside the second stop() gives background work, whatever the grace.
      setTimeout(bg.open, 150)
      await stopped
      expect(order).toEqual(['background done', 'stopped'])
      expect(logs.msgs('background work of a task failed').map((l) => l.level)).toEqual([ERROR])
      expect(logs.msgs('shutdown grace period over')).toEqual([])
    })
  })
}
