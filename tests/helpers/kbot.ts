import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Config, loadConfig } from '../../src/config.ts'
import { createKbot, type Kbot } from '../../src/kbot.ts'
import { createLogger, type Logger, secretsOf } from '../../src/logger.ts'
import { type Dialect, openStore } from '../../src/store/db.ts'
import { registerStop, tempDir } from './cleanup.ts'
import { createTestDb, type TestDb } from './db.ts'

export interface TestKbotOptions {
  dialect: Dialect
  label: string
  /** Environment variables (SPEC names). */
  env?: Record<string, string>
  /** Extra config.toml text (lease, margins, pipeline, messages…). */
  toml?: string
  /** Another instance on an existing database: its own connections, the same tables. */
  db?: TestDb
  logLevel?: string
  /** Where log lines go (default: stderr); the logger masks the config's secrets as the server's does. */
  logDestination?: { write(line: string): void }
}

export interface TestKbot {
  kbot: Kbot
  config: Config
  db: TestDb
  log: Logger
  /** POST a JSON body to a route through app.handle (no port needed). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>
  get(path: string): Promise<{ status: number; json: any }>
  /** Stops workers; drops the database unless it was passed in. */
  stop(): Promise<void>
}

/** Test defaults: fast settle, short leases; tests override what they exercise. */
const BASE_TOML = `
[kakao]
callback_settle_ms = 30
[worker]
lease_ms = 3000
guard_interval_ms = 50
poll_ms = 200
`

export async function startTestKbot(opts: TestKbotOptions): Promise<TestKbot> {
  const db = opts.db ?? (await createTestDb(opts.dialect, opts.label))
  const dir = tempDir('cfg')
  const path = join(dir, 'config.toml')
  writeFileSync(path, mergeToml(BASE_TOML, opts.toml ?? ''))
  const config = loadConfig({
    cwd: dir,
    env: { KBOT_CONFIG: path, DATABASE_URL: db.url, OPENAI_API_KEY: 'sk-test', ...opts.env },
  })
  const log = createLogger({
    level: opts.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent',
    destination: opts.logDestination,
    secrets: secretsOf(config),
  })
  const store = opts.db ? await openStore(db.url) : db.store
  const kbot = await createKbot(config, { log, store, migrate: false })
  await kbot.start()
  let stopped: Promise<void> | null = null
  const call = async (req: Request) => {
    const res = await kbot.app.handle(req)
    const text = await res.text()
    return { status: res.status, json: text ? JSON.parse(text) : null }
  }
  const stop = () => {
    stopped ??= (async () => {
      await kbot.stop()
      if (opts.db) await store.close()
      else await db.drop()
    })()
    return stopped
  }
  // Registered: stopped after the test file, even when a test fails or times out before stopping it.
  registerStop('bot', `kbot ${opts.label}`, stop)
  return {
    kbot,
    config,
    db,
    log,
    post: (p, body, headers = {}) =>
      call(
        new Request(`http://localhost${p}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      ),
    get: (p) => call(new Request(`http://localhost${p}`)),
    // Idempotent: a test may stop its bot early (to await in-flight deliveries) and afterAll stops it again.
    stop,
  }
}

/** Later sections override earlier keys of the same section (enough for the small tables tests use). */
function mergeToml(base: string, extra: string): string {
  const parse = (text: string) => {
    const sections = new Map<string, Map<string, string>>()
    let current = ''
    sections.set(current, new Map())
    for (const line of text.split('\n')) {
      const header = /^\s*\[([^\]]+)\]\s*$/.exec(line)
      if (header) {
        current = header[1]!.trim()
        if (!sections.has(current)) sections.set(current, new Map())
        continue
      }
      const kv = /^\s*([\w.-]+)\s*=\s*(.+)$/.exec(line)
      if (kv) sections.get(current)!.set(kv[1]!, kv[2]!)
    }
    return sections
  }
  const merged = parse(base)
  for (const [section, entries] of parse(extra)) {
    if (!merged.has(section)) merged.set(section, new Map())
    for (const [k, val] of entries) merged.get(section)!.set(k, val)
  }
  return [...merged]
    .map(([section, entries]) =>
      [section ? `[${section}]` : '', ...[...entries].map(([k, val]) => `${k} = ${val}`)].join('\n'),
    )
    .join('\n')
}
