import { describe, expect, test } from 'bun:test'
import { Grouper } from '../../src/util/group.ts'
import { waitFor } from '../helpers/wait.ts'

interface Item {
  user: string
  n: number
}

/** A run the test finishes by hand: every call to `run` is recorded with its items and waits for `finish`. */
function harness(
  opts: { inFlight?: number; max?: number; split?: boolean; stallMs?: number; maxRunning?: number } = {},
) {
  const runs: { items: Item[]; finish(fail?: unknown): void }[] = []
  const grouper = new Grouper<Item, string>({
    inFlight: opts.inFlight ?? 1,
    max: opts.max ?? 10,
    stallMs: opts.stallMs ?? 60_000,
    maxRunning: opts.maxRunning ?? 4,
    run: (items) =>
      new Promise<string[]>((resolve, reject) => {
        runs.push({
          items: [...items],
          finish: (fail) => (fail ? reject(fail) : resolve(items.map((i) => `${i.user}#${i.n}`))),
        })
      }),
    fits: (item, group) => group.every((o) => o.user !== item.user),
    split: () => opts.split ?? true,
  })
  return { grouper, runs }
}

const item = (user: string, n: number): Item => ({ user, n })
const names = (items: Item[]) => items.map((i) => `${i.user}#${i.n}`)
/** Lets the promise callbacks that follow a finished run happen (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * A Grouper of numbers with none of the harness's options (no `fits`, `split` only when given): each run is
 * recorded, the first waits until `release()`, and a run fails when `fail(items)` says so (doubling otherwise).
 */
function plain(opts: { fail?: (items: readonly number[]) => boolean; split?: () => boolean } = {}) {
  const runs: number[][] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const grouper = new Grouper<number, number>({
    inFlight: 1,
    max: 10,
    stallMs: 60_000,
    maxRunning: 4,
    run: async (items) => {
      runs.push([...items])
      if (runs.length === 1) await gate
      if (opts.fail?.(items)) throw new Error('bad')
      return items.map((i) => i * 2)
    },
    ...(opts.split ? { split: opts.split } : {}),
  })
  return { grouper, runs, release }
}

describe('Grouper (group commit)', () => {
  test('alone, a call runs at once, by itself', async () => {
    const { grouper, runs } = harness({ inFlight: 2 })
    const a = grouper.submit(item('u1', 1))
    expect(runs.map((r) => names(r.items))).toEqual([['u1#1']])
    const b = grouper.submit(item('u2', 1))
    // A second run may be out while the first is: no waiting for company below `inFlight`.
    expect(runs.map((r) => names(r.items))).toEqual([['u1#1'], ['u2#1']])
    runs[0]!.finish()
    runs[1]!.finish()
    expect(await a).toBe('u1#1')
    expect(await b).toBe('u2#1')
  })

  test('calls that come while the runs are out go together in the next run, each with its own result', async () => {
    const { grouper, runs } = harness()
    const first = grouper.submit(item('u1', 1))
    const later = [
      grouper.submit(item('u2', 1)),
      grouper.submit(item('u3', 1)),
      grouper.submit(item('u4', 1)),
    ]
    expect(runs).toHaveLength(1)
    runs[0]!.finish()
    await settle()
    expect(runs.map((r) => names(r.items))).toEqual([['u1#1'], ['u2#1', 'u3#1', 'u4#1']])
    runs[1]!.finish()
    expect(await first).toBe('u1#1')
    expect(await Promise.all(later)).toEqual(['u2#1', 'u3#1', 'u4#1'])
  })

  test('a group holds one call per user; the rest keep their order for the next group', async () => {
    const { grouper, runs } = harness()
    const all = [
      item('u1', 1),
      item('u2', 1),
      item('u2', 2),
      item('u3', 1),
      item('u2', 3),
      item('u3', 2),
    ].map((i) => grouper.submit(i))
    runs[0]!.finish()
    await settle()
    runs[1]!.finish()
    await settle()
    runs[2]!.finish()
    await settle()
    runs[3]!.finish()
    expect(runs.map((r) => names(r.items))).toEqual([['u1#1'], ['u2#1', 'u3#1'], ['u2#2', 'u3#2'], ['u2#3']])
    expect(await Promise.all(all)).toEqual(['u1#1', 'u2#1', 'u2#2', 'u3#1', 'u2#3', 'u3#2'])
  })

  test('a group is at most `max` calls', async () => {
    const { grouper, runs } = harness({ max: 2 })
    const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((u) => grouper.submit(item(u, 1)))
    for (let i = 0; i < 4; i++) {
      runs[i]!.finish()
      await settle()
    }
    expect(runs.map((r) => names(r.items))).toEqual([['a#1'], ['b#1', 'c#1'], ['d#1', 'e#1'], ['f#1']])
    expect(await Promise.all(all)).toHaveLength(6)
  })

  test('a failed group is run again one by one: one bad call fails only itself', async () => {
    const { grouper, runs } = harness()
    const first = grouper.submit(item('u1', 1))
    const group = [
      grouper.submit(item('u2', 1)),
      grouper.submit(item('bad', 1)),
      grouper.submit(item('u4', 1)),
    ]
    runs[0]!.finish()
    await settle()
    runs[1]!.finish(new Error('foreign key violation'))
    await settle()
    expect(runs.slice(2).map((r) => names(r.items))).toEqual([['u2#1'], ['bad#1'], ['u4#1']])
    runs[2]!.finish()
    runs[3]!.finish(new Error('bad#1 alone'))
    runs[4]!.finish()
    expect(await first).toBe('u1#1')
    const settled = await Promise.allSettled(group)
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      'u2#1',
      'bad#1 alone',
      'u4#1',
    ])
  })

  test('a failure that would fail them all again (split says no) fails the whole group at once', async () => {
    const { grouper, runs } = harness({ split: false })
    const first = grouper.submit(item('u1', 1))
    const group = [grouper.submit(item('u2', 1)), grouper.submit(item('u3', 1))]
    runs[0]!.finish()
    await settle()
    runs[1]!.finish(new Error('database unavailable'))
    const settled = await Promise.allSettled(group)
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected'])
    expect(runs).toHaveLength(2)
    expect(await first).toBe('u1#1')
  })

  test('a run that throws at once still frees its place for the next calls', async () => {
    const { grouper, runs, release } = plain({ fail: (items) => items.includes(0) })
    release()
    await expect(grouper.submit(0)).rejects.toThrow('bad')
    expect(await grouper.submit(21)).toBe(42)
    expect(runs).toEqual([[0], [21]])
  })

  test('a run held up past stallMs lets the calls behind it go in another run, up to maxRunning', async () => {
    const { grouper, runs } = harness({ stallMs: 30, maxRunning: 2 })
    const held = grouper.submit(item('u1', 1))
    const behind = grouper.submit(item('u2', 1))
    expect(runs).toHaveLength(1)
    // The first run never finishes here: after 30 ms the second call runs beside it.
    await waitFor(() => runs.length === 2, { timeoutMs: 2_000, what: 'a second run beside the held one' })
    expect(names(runs[1]!.items)).toEqual(['u2#1'])
    const third = grouper.submit(item('u3', 1))
    // Two runs out, both held: the third call waits for one of them, however long they take.
    await Bun.sleep(100)
    expect(runs).toHaveLength(2)
    runs[1]!.finish()
    expect(await behind).toBe('u2#1')
    await waitFor(() => runs.length === 3, { timeoutMs: 2_000, what: 'the third run' })
    runs[2]!.finish()
    runs[0]!.finish()
    expect(await third).toBe('u3#1')
    expect(await held).toBe('u1#1')
  })

  test('a run that finishes in time gives back only its own place', async () => {
    const { grouper, runs } = harness({ stallMs: 30 })
    const first = grouper.submit(item('u1', 1))
    runs[0]!.finish()
    expect(await first).toBe('u1#1')
    // Past the finished run's stall time: its timer must not free a second place.
    await Bun.sleep(60)
    const next = grouper.submit(item('u2', 1))
    const behind = grouper.submit(item('u3', 1))
    expect(runs.map((r) => names(r.items))).toEqual([['u1#1'], ['u2#1']])
    runs[1]!.finish()
    await waitFor(() => runs.length === 3, { timeoutMs: 2_000, what: 'the third run' })
    runs[2]!.finish()
    expect(await Promise.all([next, behind])).toEqual(['u2#1', 'u3#1'])
  })

  test('after a held run finishes, one run at a time again: the stall freed one place, not two', async () => {
    const { grouper, runs } = harness({ stallMs: 30 })
    const held = grouper.submit(item('u1', 1))
    const behind = grouper.submit(item('u2', 1))
    await waitFor(() => runs.length === 2, { timeoutMs: 2_000, what: 'a second run beside the held one' })
    runs[0]!.finish()
    runs[1]!.finish()
    expect(await Promise.all([held, behind])).toEqual(['u1#1', 'u2#1'])
    const next = grouper.submit(item('u3', 1))
    const after = grouper.submit(item('u4', 1))
    expect(runs.map((r) => names(r.items)).slice(2)).toEqual([['u3#1']])
    runs[2]!.finish()
    await waitFor(() => runs.length === 4, { timeoutMs: 2_000, what: 'the fourth run' })
    runs[3]!.finish()
    expect(await Promise.all([next, after])).toEqual(['u3#1', 'u4#1'])
  })

  test('without fits, any calls go together; a lone failed call is never run twice, even when split says yes', async () => {
    let failing = false
    const { grouper, runs, release } = plain({ fail: () => failing, split: () => true })
    const first = grouper.submit(1)
    const rest = [grouper.submit(1), grouper.submit(1), grouper.submit(2)]
    release()
    expect(await Promise.all([first, ...rest])).toEqual([2, 2, 2, 4])
    expect(runs).toEqual([[1], [1, 1, 2]])
    failing = true
    await expect(grouper.submit(3)).rejects.toThrow('bad')
    expect(runs).toHaveLength(3)
  })

  test('without split, a failed group of several is not run again one by one', async () => {
    const { grouper, runs, release } = plain({ fail: () => true })
    const all = Promise.allSettled([grouper.submit(1), grouper.submit(2), grouper.submit(3)])
    release()
    expect((await all).map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(runs).toEqual([[1], [2, 3]])
  })
})
