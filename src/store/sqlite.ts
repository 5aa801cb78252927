import { Database, type SQLQueryBindings } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { AppError } from '../errors.ts'
import type { Db, Store } from './db.ts'

/** `$1` → `?1`: SQLite's numbered parameters keep the order-independent `$n` meaning. */
const rewrite = (sql: string) => sql.replace(/\$(\d+)/g, '?$1')

function bind(params: readonly unknown[]): SQLQueryBindings[] {
  return params.map((p) => {
    if (p === undefined) return null
    if (p instanceof Date) return p.toISOString()
    if (typeof p === 'boolean') return p ? 1 : 0
    if (typeof p === 'object' && p !== null && !(p instanceof Uint8Array)) return JSON.stringify(p)
    return p as SQLQueryBindings
  })
}

/** A FIFO mutex: bun:sqlite is synchronous, but a transaction spans awaits, so others must wait it out. */
class Mutex {
  private tail: Promise<void> = Promise.resolve()
  private held = false
  get locked(): boolean {
    return this.held
  }
  async lock(): Promise<() => void> {
    let release!: () => void
    const next = new Promise<void>((r) => {
      release = r
    })
    const prev = this.tail
    this.tail = prev.then(() => next)
    await prev
    this.held = true
    return () => {
      this.held = false
      release()
    }
  }
}

export function openSqlite(path: string): Store {
  const memory = path === ':memory:'
  if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true })
  const sqlite = new Database(memory ? ':memory:' : path, { create: true, strict: false })
  sqlite.exec('PRAGMA journal_mode = WAL')
  sqlite.exec('PRAGMA synchronous = NORMAL')
  sqlite.exec('PRAGMA busy_timeout = 5000')
  sqlite.exec('PRAGMA foreign_keys = ON')

  const mutex = new Mutex()
  let closed = false

  const run = <R>(sql: string, params: readonly unknown[]): R[] => {
    if (closed) throw new AppError('DB_UNAVAILABLE', 'the SQLite database is closed')
    return sqlite.query(rewrite(sql)).all(...bind(params)) as R[]
  }

  // Inside a transaction: the lock is already held by this caller, so run directly.
  const inner: Db = {
    dialect: 'sqlite',
    query: async (sql, params = []) => run(sql, params),
    tx: (fn) => fn(inner),
    exec: async (sql) => {
      sqlite.exec(sql)
    },
    close: async () => {},
  }

  const db: Db = {
    dialect: 'sqlite',
    async query<R>(sql: string, params: readonly unknown[] = []) {
      // A statement outside a transaction must not land inside someone else's open BEGIN … COMMIT.
      if (mutex.locked) {
        const release = await mutex.lock()
        try {
          return run<R>(sql, params)
        } finally {
          release()
        }
      }
      return run<R>(sql, params)
    },
    async tx(fn) {
      const release = await mutex.lock()
      try {
        // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read lock.
        sqlite.exec('BEGIN IMMEDIATE')
        try {
          const result = await fn(inner)
          sqlite.exec('COMMIT')
          return result
        } catch (err) {
          if (sqlite.inTransaction) sqlite.exec('ROLLBACK')
          throw err
        }
      } finally {
        release()
      }
    },
    async exec(sql) {
      const release = await mutex.lock()
      try {
        sqlite.exec(sql)
      } finally {
        release()
      }
    },
    async close() {
      if (closed) return
      const release = await mutex.lock()
      closed = true
      sqlite.close()
      release()
    },
  }

  return {
    db,
    notifier: null,
    describe: memory ? 'sqlite (in memory)' : `sqlite ${resolve(path)}`,
    async ping() {
      const start = performance.now()
      await db.query('select 1')
      return performance.now() - start
    },
    close: () => db.close(),
  }
}
