import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { silentLogger } from '../../src/logger.ts'
import { createQueueRunner, type QueueRunner } from '../../src/queue/runner.ts'
import { defineTaskHandler, final, retryable, type TaskContext } from '../../src/queue/types.ts'
import type { Dialect } from '../../src/store/db.ts'
import { claimTasks } from '../../src/store/task-claims.ts'
import { enqueueTask, getTask } from '../../src/store/tasks.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

interface Gate {
  open: () => void
  opened: Promise<void>
}
const gate = (): Gate => {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

/** A kind the runner has never heard of: proves it runs any task by its registered name. */
for (const dialect of await testDialects()) {
  describe(`queue runner with a custom kind (${dialect})`, () => {
    let t: TestDb
    let runner: QueueRunner
    let slow: QueueRunner
    const calls: { id: string; attempt: number; text: string }[] = []
    const gates = new Map<string, Gate>()
    const completions = new Map<string, unknown>()
    const contexts = new Map<string, TaskContext>()

    const echo = defineTaskHandler<{ text: string; failFirst?: 'retryable' | 'final' }>({
      kind: 'echo',
      maxAttempts: 3,
      async run(task, ctx) {
        calls.push({ id: task.id, attempt: task.attempts, text: task.input.text })
        if (task.input.failFirst === 'final') throw final(new Error('bad input'))
        if (task.input.failFirst === 'retryable' && task.attempts === 1)
          throw retryable(new Error('try later'))
        await ctx.complete()
      },
    })
    // Waits for the test to open its gate, then completes: a task that runs longer than its lease.
    const held = defineTaskHandler<{ key: string }>({
      kind: 'held',
      async run(task, ctx) {
        contexts.set(task.input.key, ctx)
        await gates.get(task.input.key)!.opened
        completions.set(task.input.key, await ctx.complete())
      },
    })

    const rowOf = async (id: string) =>
      (await t.store.db.query<Row>('select * from aiprocessingtask where id = $1', [id]))[0]!

    beforeAll(async () => {
      t = await createTestDb(dialect as Dialect, `runner-${dialect}`)
      const base = { db: t.store.db, notifier: null, log: silentLogger(), pollMs: 100 }
      runner = createQueueRunner({ ...base, concurrency: 2, leaseMs: 5000, handlers: [echo] })
      slow = createQueueRunner({ ...base, concurrency: 2, leaseMs: 300, handlers: [held] })
      await runner.start()
      await slow.start()
    })
    afterAll(async () => {
      for (const g of gates.values()) g.open()
      await runner.stop(1000)
      await slow.stop(1000)
      await t.drop()
    })

    test('a registered kind runs once and completes; the row keeps its kind and has no user', async () => {
      const task = await runner.enqueue('echo', { text: 'hello' })
      expect(task).not.toBeNull()
      const done = await runner.waitFor(task!.id, 10_000)
      expect(done?.status).toBe('completed')
      expect(calls.filter((c) => c.id === task!.id)).toEqual([{ id: task!.id, attempt: 1, text: 'hello' }])
      const row = await rowOf(task!.id)
      expect(row).toMatchObject({ kind: 'echo', status: 'completed', user_id: null, callback_status: 'none' })
      expect(Number(row.attempts)).toBe(1)
    })

    test('a retryable error is retried after a backoff, then completes', async () => {
      const task = await runner.enqueue('echo', { text: 'again', failFirst: 'retryable' })
      const done = await waitFor(async () => {
        const row = await rowOf(task!.id)
        return row.status === 'completed' ? row : null
      })
      expect(Number(done.attempts)).toBe(2)
      expect(calls.filter((c) => c.id === task!.id).map((c) => c.attempt)).toEqual([1, 2])
    })

    test('a final error fails the task at once, with its reason', async () => {
      const task = await runner.enqueue('echo', { text: 'no', failFirst: 'final' })
      const done = await runner.waitFor(task!.id, 10_000)
      expect(done?.status).toBe('failed')
      const row = await rowOf(task!.id)
      expect(row).toMatchObject({ status: 'failed', error: 'bad input' })
      expect(Number(row.attempts)).toBe(1)
      expect(calls.filter((c) => c.id === task!.id)).toHaveLength(1)
      const events = await t.store.db.query<Row>("select detail from eventlog where type = 'task_failed'")
      expect(events.some((e) => JSON.stringify(e.detail).includes(task!.id))).toBe(true)
    })

    test('a runner leaves kinds it has no handler for to others', async () => {
      gates.set('not-for-echo', gate())
      const task = await slow.enqueue('held', { key: 'not-for-echo' })
      // The echo runner polls every 100 ms: it must never have claimed the held task.
      const row = await waitFor(async () => {
        const r = await rowOf(task!.id)
        return r.status === 'processing' ? r : null
      })
      expect(row.lease_owner).toContain(slow.stats().instance)
      gates.get('not-for-echo')!.open()
      expect((await slow.waitFor(task!.id, 10_000))?.status).toBe('completed')
    })

    test('the lease is renewed while the handler runs longer than the lease', async () => {
      gates.set('long', gate())
      const task = await slow.enqueue('held', { key: 'long' })
      const first = await waitFor(async () => {
        const r = await rowOf(task!.id)
        return r.status === 'processing' ? r : null
      })
      const firstUntil = new Date(first.lease_until).getTime()
      // Past the first lease's end the task is still ours, with a lease that was pushed on.
      const later = await waitFor(async () => {
        const r = await rowOf(task!.id)
        return Date.now() > firstUntil + 300 && new Date(r.lease_until).getTime() > Date.now() ? r : null
      })
      expect(later).toMatchObject({ status: 'processing', lease_owner: first.lease_owner })
      expect(await claimTasks(t.store.db, { owner: 'thief', limit: 10, leaseMs: 1000 })).toEqual([])
      gates.get('long')!.open()
      const done = await slow.waitFor(task!.id, 10_000)
      expect(done?.status).toBe('completed')
      expect(Number((await rowOf(task!.id)).attempts)).toBe(1)
      expect(completions.get('long')).toMatchObject({ status: 'completed' })
    })

    test('a worker whose lease was taken over cannot complete the task', async () => {
      gates.set('stale', gate())
      const task = await slow.enqueue('held', { key: 'stale' })
      await waitFor(() => contexts.get('stale'))
      // Another worker reclaimed it (as after an expired lease): the fence now names that owner.
      await t.store.db.query(
        "update aiprocessingtask set lease_owner = 'other-instance/1', lease_until = $2 where id = $1",
        [task!.id, new Date(Date.now() + 60_000)],
      )
      await waitFor(() => contexts.get('stale')!.signal.aborted, { what: 'the abort on lease loss' })
      gates.get('stale')!.open()
      await waitFor(() => completions.has('stale'))
      expect(completions.get('stale')).toBeNull()
      const row = await getTask(t.store.db, task!.id)
      expect(row).toMatchObject({ status: 'processing', leaseOwner: 'other-instance/1', completedAt: null })
    })

    test('enqueue with a taken dedupe key inserts nothing', async () => {
      const at = new Date()
      const input = {
        kind: 'echo',
        input: { text: 'once' },
        deadlineAt: at,
        maxAttempts: 1,
        dedupeKey: 'echo:1',
      }
      const first = await enqueueTask(t.store.db, input)
      const second = await enqueueTask(t.store.db, input)
      expect(first).not.toBeNull()
      expect(second).toBeNull()
      const rows = await t.store.db.query<Row>("select id from aiprocessingtask where dedupe_key = 'echo:1'")
      expect(rows).toHaveLength(1)
    })
  })
}
