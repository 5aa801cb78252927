import type { Db } from '../../src/store/db.ts'

/** What a spy does with a statement: nothing (undefined), or a promise the statement waits for (or fails with). */
export type StatementHook = (sql: string) => Promise<void> | undefined

const spied = new WeakSet<Db>()

/**
 * Sends every statement of `db`, and of every transaction it opens, through `hook` before it runs; a
 * transaction's BEGIN and COMMIT are reported as `begin` and `commit` (their hook results are not waited for).
 * For tests that count or record what a request sent, or inject a fault into one statement. SQLite's
 * transaction hands back the same Db each time: each object is wrapped once.
 */
export function spyOnStatements(db: Db, hook: StatementHook): void {
  if (spied.has(db)) return
  spied.add(db)
  const query = db.query.bind(db)
  const tx = db.tx.bind(db)
  db.query = ((sql: string, params?: readonly unknown[]) => {
    const wait = hook(sql)
    return wait ? wait.then(() => query(sql, params)) : query(sql, params)
  }) as Db['query']
  db.tx = ((fn: (inner: Db) => Promise<unknown>) => {
    void hook('begin')
    return tx(async (inner) => {
      spyOnStatements(inner, hook)
      const out = await fn(inner)
      void hook('commit')
      return out
    })
  }) as Db['tx']
}
