import { Database } from 'bun:sqlite'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Store } from '../../src/store/db.ts'
import { openSqlite } from '../../src/store/sqlite.ts'
import { registerStop, tempDir, useCleanup } from '../helpers/cleanup.ts'

/**
 * SQLite's group commit (src/store/sqlite.ts): the transactions that finish in one turn of the event loop
 * share one COMMIT, and none of their callers hears "done" before it. A second connection on the file (not
 * kbot's) is the witness: it sees only committed rows, and `PRAGMA data_version` counts others' commits.
 */
describe('SQLite group commit', () => {
  useCleanup()
  let path: string
  let store: Store
  let reader: Database

  beforeEach(async () => {
    path = join(tempDir('group-commit'), 'kbot.db')
    store = openSqlite(path)
    registerStop('db', 'group-commit store', () => store.close())
    // `parent` is checked at COMMIT (deferred), the one way a test can make a COMMIT fail on purpose.
    await store.db.exec(
      'create table item (id integer primary key, note text not null, parent integer references item (id) deferrable initially deferred)',
    )
    reader = new Database(path, { readonly: true })
  })
  afterEach(() => reader.close())

  const seen = (id: number) => reader.query('select note from item where id = ?').get(id) !== null
  const commits = () => (reader.query('pragma data_version').get() as { data_version: number }).data_version
  /** Inserts a row in a transaction; `ran` resolves once its work is done and it waits for the COMMIT. */
  const insert = (id: number, ran?: () => void) =>
    store.db.tx(async (tx) => {
      await tx.query('insert into item (id, note) values ($1, $2)', [id, `n${id}`])
      ran?.()
      return id
    })
  /** Starts insert(id) and returns once it waits for its group's COMMIT. */
  const waitingInsert = async (id: number) => {
    const { promise, resolve } = Promise.withResolvers<void>()
    const done = insert(id, resolve)
    await promise
    return { done } // wrapped: an async function returning the promise itself would wait for it
  }

  test('transactions started together commit once, and each caller hears of it only after the COMMIT', async () => {
    const before = commits()
    const visibleWhenResolved: boolean[] = []
    const all = Array.from({ length: 20 }, (_, i) =>
      insert(i + 1).then((id) => {
        // Synchronously, as the caller learns it is done: another connection must already see the row.
        visibleWhenResolved.push(seen(id))
        return id
      }),
    )
    expect(await Promise.all(all)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(visibleWhenResolved).toEqual(Array(20).fill(true))
    expect(commits() - before).toBe(1)
  })

  test('a transaction alone commits on the next turn of the event loop', async () => {
    expect(await insert(1)).toBe(1)
    expect(seen(1)).toBe(true)
    expect(await insert(2)).toBe(2)
    expect(seen(2)).toBe(true)
  })

  test('a failing member writes nothing and rejects alone; the rest of its group commits', async () => {
    const bad = store.db.tx(async (tx) => {
      await tx.query('insert into item (id, note) values ($1, $2)', [2, 'half'])
      throw new Error('the handler gave up')
    })
    const results = await Promise.allSettled([insert(1), bad, insert(3)])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('the handler gave up')
    expect([seen(1), seen(2), seen(3)]).toEqual([true, false, true])
  })

  test('a COMMIT that fails rejects every member of its group, and none of them is written', async () => {
    // kbot's schema defers no constraint, so in kbot this is an I/O error (a full disk); the promise is the same.
    const orphan = store.db.tx(async (tx) => {
      await tx.query('insert into item (id, note, parent) values ($1, $2, $3)', [2, 'orphan', 99])
    })
    const results = await Promise.allSettled([insert(1), orphan, insert(3)])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect((results[0] as PromiseRejectedResult).reason.message).toContain('FOREIGN KEY')
    expect([seen(1), seen(2), seen(3)]).toEqual([false, false, false])
    // The next transaction starts a new group and commits.
    expect(await insert(4)).toBe(4)
    expect(seen(4)).toBe(true)
  })

  test('a failing transaction that opened the group leaves no transaction open behind it', async () => {
    const bad = store.db.tx(async (tx) => {
      await tx.query('insert into item (id, note) values ($1, $2)', [1, 'x'])
      throw new Error('no')
    })
    await expect(bad).rejects.toThrow('no')
    // Another connection can write: the write lock was given back.
    const writer = new Database(path)
    try {
      writer.exec('pragma busy_timeout = 0')
      writer.exec("insert into item (id, note) values (9, 'other')")
    } finally {
      writer.close()
    }
    expect([seen(1), seen(9)]).toEqual([false, true])
  })

  test('a statement outside a transaction commits the open group first, and sees its rows', async () => {
    const before = commits()
    const { done: pending } = await waitingInsert(1)
    expect(seen(1)).toBe(false) // the group is open
    const [row] = await store.db.query<{ n: number }>('select count(*) as n from item')
    expect(row!.n).toBe(1)
    expect(seen(1)).toBe(true)
    expect(await pending).toBe(1)
    expect(commits() - before).toBe(1)
  })

  test('a store opened on the same file while a group is open is not blocked by it', async () => {
    const { done: first } = await waitingInsert(1)
    expect(seen(1)).toBe(false) // the group is open
    const second = openSqlite(path)
    registerStop('db', 'group-commit second store', () => second.close())
    await second.db.exec('pragma busy_timeout = 0')
    // SQLite's busy wait is synchronous: had the group stayed open, this would fail with SQLITE_BUSY.
    const other = second.db.tx(async (tx) => {
      await tx.query('insert into item (id, note) values ($1, $2)', [2, 'second'])
      return 2
    })
    expect(await Promise.all([first, other])).toEqual([1, 2])
    expect([seen(1), seen(2)]).toEqual([true, true])
  })

  test('close() commits an open group before closing', async () => {
    const { done: pending } = await waitingInsert(1)
    await store.close()
    expect(await pending).toBe(1)
    expect(seen(1)).toBe(true)
  })
})
