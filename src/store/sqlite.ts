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

/**
 * Stores open on each database file in this process. A second one (a test, a tool beside a server) would
 * block on the write lock a group holds open: SQLite's busy wait is synchronous, so the commit waiting for
 * the next turn of the event loop would never come. Grouping is off while a file has more than one.
 */
const openFiles = new Map<string, Set<{ commitIfIdle(): void }>>()

export function openSqlite(path: string): Store {
  const memory = path === ':memory:'
  const file = memory ? null : resolve(path)
  const peers = file ? (openFiles.get(file) ?? new Set()) : new Set<{ commitIfIdle(): void }>()
  if (file) openFiles.set(file, peers)
  const shared = () => peers.size > 1
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

  /**
   * Group commit. A transaction's work runs inside a savepoint of one open BEGIN IMMEDIATE … COMMIT that the
   * transactions finishing in the same turn of the event loop share; each caller's promise resolves only after
   * that COMMIT (or rejects with its error, nothing written). Under a burst of acks the commit's page writes
   * are paid once per group, not once per ack; alone, a transaction waits one setImmediate for its commit.
   */
  let group: { members: { done: () => void; failed: (err: unknown) => void }[] } | null = null
  let commitScheduled = false
  const MAX_GROUP = 64
  // Called with the mutex held.
  const commitGroup = () => {
    const g = group
    if (!g) return
    group = null
    try {
      sqlite.exec('COMMIT')
    } catch (err) {
      if (sqlite.inTransaction) sqlite.exec('ROLLBACK')
      for (const m of g.members) m.failed(err)
      return
    }
    for (const m of g.members) m.done()
  }
  const flushSoon = () => {
    if (commitScheduled) return
    commitScheduled = true
    setImmediate(async () => {
      commitScheduled = false
      const release = await mutex.lock()
      try {
        commitGroup()
      } finally {
        release()
      }
    })
  }

  const self = {
    commitIfIdle: () => {
      if (!mutex.locked) commitGroup()
    },
  }
  peers.add(self)

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

  /** Takes the lock for a statement outside a transaction; an open group commits first. */
  const alone = async <R>(work: () => R): Promise<R> => {
    if (!mutex.locked && !group) return work()
    const release = await mutex.lock()
    try {
      commitGroup()
      return work()
    } finally {
      release()
    }
  }

  const db: Db = {
    dialect: 'sqlite',
    // A statement outside a transaction must not land inside someone else's open BEGIN … COMMIT.
    query: <R>(sql: string, params: readonly unknown[] = []) => alone(() => run<R>(sql, params)),
    async tx(fn) {
      const release = await mutex.lock()
      let released = false
      try {
        if (closed) throw new AppError('DB_UNAVAILABLE', 'the SQLite database is closed')
        // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read lock.
        if (!group) {
          // A group another store of this file left open (opened before this one was) would block us.
          for (const peer of peers) if (peer !== self) peer.commitIfIdle()
          sqlite.exec('BEGIN IMMEDIATE')
          group = { members: [] }
        }
        sqlite.exec('SAVEPOINT kbot_tx')
        let result: Awaited<ReturnType<typeof fn>>
        try {
          result = await fn(inner)
          sqlite.exec('RELEASE kbot_tx')
        } catch (err) {
          if (sqlite.inTransaction) {
            sqlite.exec('ROLLBACK TO kbot_tx')
            sqlite.exec('RELEASE kbot_tx')
            // Alone in its group: end the transaction now rather than hold the write lock for nothing.
            if (group?.members.length === 0) {
              sqlite.exec('ROLLBACK')
              group = null
            } else flushSoon()
          } else {
            // SQLite rolled the whole transaction back (a full disk, an I/O error): the group's work is gone.
            const lost = group?.members ?? []
            group = null
            for (const m of lost) m.failed(err)
          }
          throw err
        }
        const { promise: committed, resolve, reject } = Promise.withResolvers<void>()
        group.members.push({ done: resolve, failed: reject })
        if (group.members.length >= MAX_GROUP || shared()) commitGroup()
        else flushSoon()
        released = true
        release()
        await committed
        return result
      } finally {
        if (!released) release()
      }
    },
    exec: (sql) =>
      alone(() => {
        sqlite.exec(sql)
      }),
    async close() {
      if (closed) return
      const release = await mutex.lock()
      commitGroup()
      closed = true
      sqlite.close()
      peers.delete(self)
      if (file && peers.size === 0) openFiles.delete(file)
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
