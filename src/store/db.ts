import { AppError } from '../errors.ts'

export type Dialect = 'postgres' | 'sqlite'

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
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>
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

/** Hides the password of a database URL for logs: in the user info (also with no user) and in the query. */
export function redactUrl(url: string): string {
  let out = url
  const scheme = /^[a-z][\w+.-]*:\/\//i.exec(url)
  if (scheme) {
    const rest = url.slice(scheme[0].length)
    const slash = rest.indexOf('/')
    const authority = slash < 0 ? rest : rest.slice(0, slash)
    // The password ends at the last "@" of the authority (it may itself contain "@").
    const at = authority.lastIndexOf('@')
    const colon = authority.indexOf(':')
    if (at >= 0 && colon >= 0 && colon < at)
      out = `${scheme[0]}${authority.slice(0, colon)}:***${rest.slice(at)}`
  }
  return out.replace(/([?&](?:password|sslpassword|pass|pwd)=)[^&#]*/gi, '$1***')
}
