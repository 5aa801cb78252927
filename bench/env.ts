import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { type FakeKakao, startFakeKakao } from '../tests/helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../tests/helpers/fake-openai.ts'
import { type BenchServer, KBOT_ROOT, runCli, startServer } from './server.ts'

export const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const NAME_COMMAND = join(KBOT_ROOT, 'plugins', 'name-command', 'index.ts')
const PIPELINE_WITHOUT_NAMES = '["late-answer", "prompt-resolver", "history-context", "ai-dispatch"]'

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
  /** `root`: another kbot checkout on the same database (it must have the same migrations). */
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
    const pipelineNote = existsSync(NAME_COMMAND)
      ? null
      : 'plugins/name-command is missing: the pipeline runs without it'
    writeFileSync(
      configPath,
      [
        '[kakao]',
        'callback_settle_ms = 0',
        // The load is a few thousand simulated users sending far faster than people type: the per-user limit
        // stays in the pipeline (its statement is part of the ack) but must not refuse them.
        ...(pipelineNote
          ? ['[pipeline]', `order = ${PIPELINE_WITHOUT_NAMES}`]
          : ['[plugins.rate-limit]', 'per_minute = 10000', 'burst = 10000']),
        '',
      ].join('\n'),
    )

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
    // Users, conversations and finished tasks stay: later phases meet a database that has seen traffic.
    const resetQueue = async ({ keepRunning = false } = {}) => {
      const unfinished = keepRunning ? `status = 'pending'` : `status in ('pending', 'processing')`
      const held = keepRunning ? ` and status <> 'processing'` : ''
      await sql.unsafe(
        `delete from ${schema}.aiprocessingtask where ${unfinished} or (callback_status = 'pending'${held})`,
      )
    }
    return {
      schema,
      databaseUrl,
      sql,
      model,
      kakao,
      pipelineNote,
      startKbot: (label, env = {}, root) => startServer({ label, env: { ...baseEnv, ...env }, root }),
      setModelDelay,
      resetQueue,
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
