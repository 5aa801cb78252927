import { afterAll, beforeAll } from 'bun:test'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import type { Dialect, Store } from '../../src/store/db.ts'
import { openStore } from '../../src/store/db.ts'
import { migrate } from '../../src/store/migrate.ts'
import { registerStop, tempDir } from './cleanup.ts'

export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let available: Promise<boolean> | null = null

/**
 * Whether the test PostgreSQL answers. Without it, PostgreSQL suites skip with a loud notice, except under
 * CI=true, where an unreachable PostgreSQL fails the run: CI must prove both adapters.
 */
export function pgAvailable(): Promise<boolean> {
  available ??= (async () => {
    const sql = postgres(TEST_PG_URL, { max: 1, connect_timeout: 3, onnotice: () => {} })
    try {
      await sql`select 1`
      return true
    } catch (err) {
      if (process.env.CI === 'true') {
        throw new Error(`CI=true but PostgreSQL at ${TEST_PG_URL} is unreachable: ${(err as Error).message}`)
      }
      console.warn(
        `\n${'!'.repeat(78)}\n!! PostgreSQL at ${TEST_PG_URL} is unreachable: PostgreSQL tests are SKIPPED.\n` +
          `!! Start it or set TEST_DATABASE_URL. (${(err as Error).message})\n${'!'.repeat(78)}\n`,
      )
      return false
    } finally {
      await sql.end({ timeout: 1 })
    }
  })()
  return available
}

/**
 * The dialects a store suite should run against on this machine. KBOT_TEST_DIALECTS (e.g. `sqlite`) narrows
 * them for a quick local loop such as mutation testing; it cannot be used to skip PostgreSQL under CI.
 */
export async function testDialects(): Promise<Dialect[]> {
  const all: Dialect[] = (await pgAvailable()) ? ['sqlite', 'postgres'] : ['sqlite']
  const only = process.env.KBOT_TEST_DIALECTS
  if (!only) return all
  if (process.env.CI === 'true') throw new Error('KBOT_TEST_DIALECTS must not be set under CI=true')
  return all.filter((d) => only.split(',').includes(d))
}

export interface TestDb {
  dialect: Dialect
  /** A DATABASE_URL for child processes. */
  url: string
  store: Store
  drop(): Promise<void>
}

const safe = (label: string) =>
  label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30)

/** A private schema (PostgreSQL) or a private file (SQLite) for one test file, dropped afterwards. */
export async function createTestDb(
  dialect: Dialect,
  label: string,
  options: { migrate?: boolean } = {},
): Promise<TestDb> {
  let url: string
  let cleanup: () => Promise<void>
  if (dialect === 'postgres') {
    const schema = `kbt_${safe(label)}_${Math.random().toString(36).slice(2, 8)}`
    const admin = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create schema ${schema}`)
    await admin.end()
    const sep = TEST_PG_URL.includes('?') ? '&' : '?'
    url = `${TEST_PG_URL}${sep}search_path=${schema}`
    cleanup = async () => {
      const sql = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} })
      await sql.unsafe(`drop schema if exists ${schema} cascade`)
      await sql.end()
    }
  } else {
    const dir = tempDir(safe(label))
    url = `sqlite:${join(dir, 'kbot.db')}`
    // Also registered: removed after the test file even when drop() is never reached.
    cleanup = async () => rmSync(dir, { recursive: true, force: true })
  }
  const store = await openStore(url)
  let dropped: Promise<void> | null = null
  // Idempotent, and registered: dropped after the test file even when the test never gets to it.
  const drop = () => {
    dropped ??= (async () => {
      await store.close().catch(() => {})
      await cleanup()
    })()
    return dropped
  }
  registerStop('db', `${dialect} test database ${label}`, drop)
  if (options.migrate !== false) await migrate(store.db)
  return { dialect, url, store, drop }
}

/**
 * A test database for one describe block (created in its beforeAll, dropped in its afterAll). The object is
 * usable inside tests and hooks, not while the block is being declared.
 */
export function useTestDb(dialect: Dialect, label: string, options: { migrate?: boolean } = {}): TestDb {
  let db: TestDb | null = null
  beforeAll(async () => {
    db = await createTestDb(dialect, label, options)
  })
  afterAll(() => db?.drop())
  const current = () => {
    if (!db) throw new Error(`useTestDb(${label}) used before its beforeAll ran`)
    return db
  }
  return {
    dialect,
    get url() {
      return current().url
    },
    get store() {
      return current().store
    },
    drop: () => current().drop(),
  }
}
