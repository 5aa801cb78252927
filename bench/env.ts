import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { type FakeKakao, startFakeKakao } from '../tests/helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../tests/helpers/fake-openai.ts'
import { type BenchServer, KBOT_ROOT, runCli, startServer } from './server.ts'

export const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const NAME_COMMAND = join('plugins', 'name-command', 'index.ts')
const PIPELINE_WITHOUT_NAMES = '["late-answer", "prompt-resolver", "history-context", "ai-dispatch"]'

/**
 * The bench's config.toml for the kbot tree at `root`: no settle delay, and a per-user limit the simulated users
 * (far faster than people type) never reach. A tree without name-command (or without the rate-limit plugin, an
 * older checkout measured as a baseline) gets what it knows.
 */
function benchConfig(root: string): string {
  const lines = ['[kakao]', 'callback_settle_ms = 0']
  if (!existsSync(join(root, NAME_COMMAND))) lines.push('[pipeline]', `order = ${PIPELINE_WITHOUT_NAMES}`)
  else if (existsSync(join(root, 'plugins', 'rate-limit')))
    lines.push('[plugins.rate-limit]', 'per_minute = 10000', 'burst = 10000')
  return `${lines.join('\n')}\n`
}

/** The migration files of a kbot tree: two trees can share a schema only when these are the same. */
const migrationsOf = (root: string): string =>
  readdirSync(join(root, 'migrations', 'postgres'))
    .sort()
    .join(',')

/**
 * What every phase shares: a private PostgreSQL schema, the fake model and the fake Kakao receiver (both in
 * this process), and a config.toml with `callback_settle_ms = 0`, so that the settle delay Kakao needs does not
 * hide kbot's own overhead in the end-to-end figures.
 */
export interface BenchEnv {
  schema: string
  /** DATABASE_URL for kbot processes (search_path set to the schema). */
  databaseUrl: string
  sql: postgres.Sql
  model: FakeOpenAI
  kakao: FakeKakao
  /** Set when the default pipeline had to be shortened (plugins/name-command missing). */
  pipelineNote: string | null
  /**
   * `root`: another kbot checkout; it shares the bench's schema when its migrations are this tree's, else it
   * gets a schema of its own, migrated by its own `kbot migrate`.
   */
  startKbot(label: string, env?: Record<string, string>, root?: string): Promise<BenchServer>
  setModelDelay(ms: number): void
  /**
   * Forgets unfinished work, so that a phase's backlog never runs (or calls back) during the next one.
   * `keepRunning`: tasks a worker holds are left to finish (while kbot runs: no "lease lost" for them).
   */
  resetQueue(opts?: { keepRunning?: boolean }): Promise<void>
  close(): Promise<void>
}

export async function createBenchEnv(): Promise<BenchEnv> {
  const schema = `kbench_${Math.random().toString(36).slice(2, 10)}`
  const sql = postgres(PG_URL, { max: 2, onnotice: () => {}, connect_timeout: 5 })
  const cleanups: (() => unknown)[] = [() => sql.end({ timeout: 2 })]
  const close = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch (err) {
        console.error(`bench: cleanup step failed: ${(err as Error).message}`)
      }
    }
    cleanups.length = 0
  }
  try {
    await sql.unsafe(`create schema ${schema}`)
    cleanups.push(() =>
      sql.unsafe(`set lock_timeout = '10s'; drop schema if exists ${schema} cascade`).simple(),
    )
    const databaseUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}search_path=${schema}`

    const model = startFakeOpenAI()
    cleanups.push(() => model.close())
    const kakao = startFakeKakao()
    cleanups.push(() => kakao.close())

    const dir = mkdtempSync(join(tmpdir(), 'kbench-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const configPath = join(dir, 'config.toml')
    const pipelineNote = existsSync(join(KBOT_ROOT, NAME_COMMAND))
      ? null
      : 'plugins/name-command is missing: the pipeline runs without it'
    writeFileSync(configPath, benchConfig(KBOT_ROOT))

    const baseEnv = {
      DATABASE_URL: databaseUrl,
      KBOT_CONFIG: configPath,
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: model.url,
      CALLBACK_ALLOWED_HOSTS: kakao.origin,
      // As in production: without it kbot warns at every start.
      ADMIN_TOKEN: 'bench-admin-token',
    }
    await runCli(['migrate'], baseEnv)

    const setModelDelay = (delayMs: number) => model.setDefault({ delayMs })
    // Every schema a kbot of this bench writes to: the bench's own, and one per other checkout whose migrations
    // differ from this tree's (an older main measured as a baseline would refuse a database newer than itself).
    const schemas = [schema]
    const envOf = new Map<string, Record<string, string>>([[KBOT_ROOT, baseEnv]])
    const envFor = async (root: string): Promise<Record<string, string>> => {
      const known = envOf.get(root) ?? (migrationsOf(root) === migrationsOf(KBOT_ROOT) ? baseEnv : null)
      if (known) return known
      const own = `${schema}_${schemas.length}`
      await sql.unsafe(`create schema ${own}`)
      schemas.push(own)
      cleanups.push(() =>
        sql.unsafe(`set lock_timeout = '10s'; drop schema if exists ${own} cascade`).simple(),
      )
      const ownConfig = join(dir, `config-${own}.toml`)
      writeFileSync(ownConfig, benchConfig(root))
      const ownEnv = {
        ...baseEnv,
        DATABASE_URL: `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}search_path=${own}`,
        KBOT_CONFIG: ownConfig,
      }
      await runCli(['migrate'], ownEnv, root)
      envOf.set(root, ownEnv)
      return ownEnv
    }
    // Users, conversations and finished tasks stay: later phases meet a database that has seen traffic.
    const resetQueue = async ({ keepRunning = false } = {}) => {
      const unfinished = keepRunning ? `status = 'pending'` : `status in ('pending', 'processing')`
      const held = keepRunning ? ` and status <> 'processing'` : ''
      for (const s of schemas)
        await sql.unsafe(
          `delete from ${s}.aiprocessingtask where ${unfinished} or (callback_status = 'pending'${held})`,
        )
    }
    return {
      schema,
      databaseUrl,
      sql,
      model,
      kakao,
      pipelineNote,
      startKbot: async (label, env = {}, root = KBOT_ROOT) =>
        startServer({ label, env: { ...(await envFor(root)), ...env }, root }),
      setModelDelay,
      resetQueue,
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
