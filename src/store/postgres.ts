import postgres from 'postgres'
import { AppError } from '../errors.ts'
import { redactUrl } from '../util/redact.ts'
import type { Db, Notifier, OpenStoreOptions, Store } from './db.ts'

type Sql = postgres.Sql | postgres.TransactionSql

/** Connection-level failures: the server is down, restarting, or unreachable. */
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '08000',
  '08003',
  '08006',
])

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code
  return code !== undefined && UNAVAILABLE.has(code)
}

function wrap(err: unknown): never {
  if (err instanceof AppError) throw err
  if (isUnavailable(err))
    throw new AppError('DB_UNAVAILABLE', `database unavailable: ${(err as Error).message}`, { cause: err })
  throw err
}

function makeDb(sql: Sql, inTx = false): Db {
  const db: Db = {
    dialect: 'postgres',
    async query<R>(text: string, params: readonly unknown[] = []) {
      try {
        return (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
          prepare: true,
        })) as unknown as R[]
      } catch (err) {
        return wrap(err)
      }
    },
    async tx(fn) {
      if (inTx) return fn(db)
      try {
        return (await (sql as postgres.Sql).begin((tx) => fn(makeDb(tx, true)))) as Awaited<
          ReturnType<typeof fn>
        >
      } catch (err) {
        return wrap(err)
      }
    },
    async exec(text) {
      try {
        await sql.unsafe(text)
      } catch (err) {
        wrap(err)
      }
    },
    close: async () => {},
  }
  return db
}

export function openPostgres(url: string, options: OpenStoreOptions = {}): Store {
  const connect = (max: number, applicationName?: string) =>
    postgres(url, {
      max,
      ...(applicationName ? { connection: { application_name: applicationName } } : {}),
      connect_timeout: options.connectTimeout ?? 3,
      idle_timeout: 60,
      // The default reconnect backoff grows to 20 s during an outage; a chatbot should be back within a second.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
      onnotice: () => {},
      // No pg_type query on every new connection (about 10 ms each, and the pool opens up to ten under a
      // burst): kbot binds no arrays and reads none, and the types it does use (int8, json) are built in.
      fetch_types: false,
      // int8 (count(*), sums) comes back as a string by default; numbers are what every caller wants here.
      types: {
        bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
      },
    })
  const sql = connect(options.max ?? 10)
  // The ack's connection (QueryOptions.lane): a pool of one, opened at the first ack. One group statement is
  // out at a time; a second one (the first held up, util/group.ts) goes to the pool rather than queue behind it.
  const ackSql = connect(1, 'kbot ack')
  const pool = makeDb(sql)
  const ack = makeDb(ackSql)
  let ackBusy = false
  const db: Db = {
    ...pool,
    async query(text, params, opts) {
      if (opts?.lane !== 'ack' || ackBusy) return pool.query(text, params)
      ackBusy = true
      try {
        return await ack.query(text, params)
      } finally {
        ackBusy = false
      }
    },
  }
  const end = () => Promise.all([sql.end({ timeout: 5 }), ackSql.end({ timeout: 5 })]).then(() => {})
  let schema: Promise<string> | null = null
  // Notifications are namespaced by schema, so that test schemas (and tenants) sharing a server stay apart.
  const channelOf = async (channel: string) => {
    schema ??= db.query<{ s: string }>('select current_schema() as s').then((r) => r[0]?.s ?? 'public')
    const s = await schema
    return s === 'public' ? channel : `${channel}__${s}`
  }

  const notifier: Notifier = {
    async listen(channel, onMessage, onReady) {
      const name = await channelOf(channel)
      const sub = await sql.listen(name, onMessage, onReady)
      return async () => {
        await sub.unlisten().catch(() => {})
      }
    },
    async notify(channel, payload = '') {
      await db.query('select pg_notify($1, $2)', [await channelOf(channel), payload])
    },
  }

  return {
    db: { ...db, close: end },
    notifier,
    describe: `postgres ${redactUrl(url)}`,
    async ping() {
      const start = performance.now()
      await db.query('select 1')
      return performance.now() - start
    },
    close: end,
  }
}
