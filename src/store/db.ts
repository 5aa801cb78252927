import { AppError } from '../errors.ts'

export type Dialect = 'postgres' | 'sqlite'

/**
 * `lane: 'ack'`: on PostgreSQL, run on the ack's connection of its own while it is free (else on the pool).
 * The pool hands each query to the connection idle the longest, so acks one at a time would each land on a
 * PostgreSQL backend that had been idle: at 200 req/s that cost PostgreSQL 1.83 ms of CPU per ack against 1.56
 * on a connection of their own (README, "What one request at a time costs"). Ignored elsewhere.
 */
export interface QueryOptions {
  lane?: 'ack'
}

/**
 * The one database port. Repositories write SQL once with `$1…` placeholders; the SQLite adapter rewrites
 * them. Where the dialects differ, a repository branches on `db.dialect` in one named place.
 *
 * @example
 *   const rows = await db.query<{ id: string }>('select id from appuser where bot_id = $1', [botId])
 *   await db.tx(async (tx) => { await tx.query('insert …'); await tx.query('insert …') })
 */
export interface Db {
  readonly dialect: Dialect
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    opts?: QueryOptions,
  ): Promise<R[]>
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>
  close(): Promise<void>
}

/** Cross-process notifications (PostgreSQL LISTEN/NOTIFY); absent on SQLite, where one process owns the file. */
export interface Notifier {
  /**
   * Calls `onMessage` for each notification on `channel`, and `onReady` each time the listening connection is
   * (re)established, so that a caller can catch up on whatever it missed while disconnected.
   */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onReady?: () => void,
  ): Promise<() => Promise<void>>
  notify(channel: string, payload?: string): Promise<void>
}

export interface Store {
  readonly db: Db
  readonly notifier: Notifier | null
  /** A short description for logs (never the password). */
  readonly describe: string
  ping(): Promise<number>
  close(): Promise<void>
}

export interface OpenStoreOptions {
  /** postgres.js pool size. */
  max?: number
  /** Seconds to wait for a connection before failing (keeps /skill from hanging when the database is down). */
  connectTimeout?: number
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const { openSqlite } = await import('./sqlite.ts')
    return openSqlite(url.slice('sqlite:'.length))
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgres } = await import('./postgres.ts')
    return openPostgres(url, options)
  }
  throw new AppError('CONFIG_INVALID', `unsupported DATABASE_URL scheme: ${url.split(':')[0]}`)
}

// Kept here for callers that know it as the store's helper; it lives in src/util so config can use it.
export { redactUrl } from '../util/redact.ts'
