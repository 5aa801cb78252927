import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Cron } from 'croner'
import * as v from 'valibot'
import { AppError } from './errors.ts'
import { DEFAULT_MESSAGES, type Messages } from './messages.ts'
import { redactUrl } from './store/db.ts'
import { parseHostRules } from './worker/callback.ts'

/** Default plugin order of a Kakao turn (SPEC §5.3). */
export const DEFAULT_PIPELINE = [
  'late-answer',
  'name-command',
  'prompt-resolver',
  'history-context',
  'ai-dispatch',
] as const

// ---------------------------------------------------------------------------------------------
// Coercing field schemas. Environment values arrive as strings, TOML values as typed values;
// both must validate to the same thing, with a message an operator can act on.

const int = (min: number, max: number, fallback: number) =>
  v.optional(
    v.pipe(
      v.union(
        [v.number(), v.pipe(v.string(), v.trim(), v.regex(/^-?\d+$/), v.transform(Number))],
        `must be a whole number from ${min} to ${max}`,
      ),
      v.integer(`must be a whole number from ${min} to ${max}`),
      v.minValue(min, `must be a whole number from ${min} to ${max}`),
      v.maxValue(max, `must be a whole number from ${min} to ${max}`),
    ),
    fallback,
  )

const num = (min: number, max: number, fallback: number) =>
  v.optional(
    v.pipe(
      v.union(
        [v.number(), v.pipe(v.string(), v.trim(), v.regex(/^-?\d+(\.\d+)?$/), v.transform(Number))],
        `must be a number from ${min} to ${max}`,
      ),
      v.minValue(min, `must be a number from ${min} to ${max}`),
      v.maxValue(max, `must be a number from ${min} to ${max}`),
    ),
    fallback,
  )

const TRUE = ['true', '1', 'yes', 'on']
const FALSE = ['false', '0', 'no', 'off', '']
const bool = (fallback: boolean) =>
  v.optional(
    v.union(
      [
        v.boolean(),
        v.pipe(
          v.string(),
          v.trim(),
          v.toLowerCase(),
          v.picklist([...TRUE, ...FALSE]),
          v.transform((s) => TRUE.includes(s)),
        ),
      ],
      'must be true or false',
    ),
    fallback,
  )

const str = (fallback: string) =>
  v.optional(v.pipe(v.string('must be text'), v.trim(), v.minLength(1)), fallback)
const optStr = () => v.optional(v.pipe(v.string('must be text'), v.trim(), v.minLength(1)))

/** A list given either as a TOML array or as a comma-separated environment value. */
const list = (fallback: string[]) =>
  v.optional(
    v.pipe(
      v.union(
        [
          v.array(v.string()),
          v.pipe(
            v.string(),
            v.transform((s) => s.split(',')),
          ),
        ],
        'must be a list (TOML array or comma-separated text)',
      ),
      v.transform((xs) => xs.map((x) => x.trim()).filter((x) => x.length > 0)),
    ),
    fallback,
  )

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * DATABASE_URL: `sqlite:<path>` (also `sqlite:///path`, `sqlite+aiosqlite:///path`, `sqlite::memory:`),
 * or `postgres://` / `postgresql://` (also the old bot's `postgresql+asyncpg://`).
 */
export const databaseUrl = v.pipe(
  v.string('must be text'),
  v.trim(),
  v.check(
    (s) => /^(sqlite(\+\w+)?:.+|postgres(ql)?(\+\w+)?:\/\/.+)$/.test(s),
    'must be sqlite:<path> or postgres://user@host:port/db',
  ),
  v.transform(normaliseDatabaseUrl),
)

export function normaliseDatabaseUrl(url: string): string {
  const pg = /^postgres(?:ql)?(?:\+\w+)?:\/\//.exec(url)
  if (pg) return `postgres://${url.slice(pg[0].length)}`
  const lite = /^sqlite(?:\+\w+)?:/.exec(url)
  if (lite) {
    let path = url.slice(lite[0].length)
    // SQLAlchemy style: sqlite:///relative.db and sqlite:////absolute.db
    if (path.startsWith('///')) path = path.slice(3)
    else if (path.startsWith('//')) path = path.slice(2)
    return `sqlite:${path}`
  }
  return url
}

const MessagesSchema = v.optional(
  v.strictObject(
    Object.fromEntries(Object.entries(DEFAULT_MESSAGES).map(([k, d]) => [k, str(d)])) as {
      [K in keyof Messages]: ReturnType<typeof str>
    },
  ),
  {},
)

const ConfigSchema = v.strictObject({
  database_url: v.optional(databaseUrl, 'sqlite:./data/kbot.db'),
  host: str('0.0.0.0'),
  port: int(0, 65535, 8000),
  log_level: v.optional(v.picklist(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(', ')}`), 'info'),
  debug: bool(false),
  admin_token: optStr(),
  session_timeout_minutes: int(1, 7 * 24 * 60, 30),
  openai: v.optional(
    v.strictObject({
      api_key: optStr(),
      base_url: v.optional(
        v.pipe(v.string(), v.trim(), v.url('must be a URL such as https://api.openai.com/v1')),
      ),
      model: str('gpt-4o'),
      temperature: num(0, 2, 0.2),
      max_tokens: int(1, 200_000, 1000),
      timeout_ms: int(100, 600_000, 30_000),
      /** USD per million tokens, by model prefix: `{ "gpt-4o" = [2.5, 10] }` (input, output). */
      prices: v.optional(v.record(v.string(), v.tuple([v.number(), v.number()])), {}),
    }),
    {},
  ),
  kakao: v.optional(
    v.strictObject({
      skill_secret: optStr(),
      bot_ids: list([]),
      callback_allowed_hosts: v.pipe(
        list(['bot-api.kakao.com']),
        v.check((entries) => {
          try {
            parseHostRules(entries)
            return true
          } catch {
            return false
          }
        }, 'every entry must be [scheme://]host[:port], e.g. bot-api.kakao.com or *.example.com'),
      ),
      callback_ttl_ms: int(1000, 600_000, 60_000),
      /** Kakao rejects a callback that races the ack; wait this long after the request arrived. */
      callback_settle_ms: int(0, 10_000, 1000),
      /** Without a callbackUrl: how long the HTTP request waits for the answer. */
      inline_wait_ms: int(0, 4800, 3800),
      /** A turn that takes longer than this answers an apology: Kakao gives up at 5 s (network included). */
      turn_budget_ms: int(500, 4900, 4500),
      max_utterance_chars: int(1, 100_000, 1000),
      max_body_bytes: int(1024, 10_000_000, 256 * 1024),
    }),
    {},
  ),
  worker: v.optional(
    v.strictObject({
      concurrency: int(0, 1000, 3),
      poll_ms: int(10, 600_000, 2000),
      max_attempts: int(1, 20, 3),
      lease_ms: int(500, 600_000, 10_000),
      /** The callback POST goes out no later than this long before the callbackUrl expires. */
      deadline_margin_ms: int(1000, 60_000, 5000),
      /** A model attempt that would have less time than this before the deadline is not started. */
      min_attempt_ms: int(0, 600_000, 3000),
      shutdown_grace_ms: int(0, 600_000, 10_000),
      /** How often the delivery guard looks for callbacks that must go out now. */
      guard_interval_ms: int(50, 60_000, 500),
    }),
    {},
  ),
  retention: v.optional(
    v.strictObject({
      /** Finished (completed/failed) tasks older than this are deleted. 0 keeps them forever. */
      task_days: int(0, 36_500, 30),
      schedule: v.pipe(
        str('17 4 * * *'),
        v.check((expr) => {
          try {
            new Cron(expr, { paused: true }).stop()
            return true
          } catch {
            return false
          }
        }, 'must be a cron expression such as "17 4 * * *"'),
      ),
      batch_size: int(1, 100_000, 1000),
    }),
    {},
  ),
  pipeline: v.optional(
    v.strictObject({
      order: list([...DEFAULT_PIPELINE]),
      /** Operator plugins: `name = "./path/to/plugin.ts"` (relative to the config file). */
      paths: v.optional(v.record(v.string(), v.string()), {}),
    }),
    {},
  ),
  /** Options per plugin, validated by each plugin's own schema when the pipeline is built. */
  plugins: v.optional(v.record(v.string(), v.record(v.string(), v.unknown())), {}),
  messages: MessagesSchema,
})

export type RawConfig = v.InferOutput<typeof ConfigSchema>
export type Config = Readonly<RawConfig> & { readonly configDir: string; readonly configPath: string | null }

// ---------------------------------------------------------------------------------------------
// Sources

/** Environment variable → config path. The names are kept from the old bot. */
const ENV_MAP: Record<string, string> = {
  DATABASE_URL: 'database_url',
  HOST: 'host',
  PORT: 'port',
  LOG_LEVEL: 'log_level',
  DEBUG: 'debug',
  ADMIN_TOKEN: 'admin_token',
  SESSION_TIMEOUT_MINUTES: 'session_timeout_minutes',
  OPENAI_API_KEY: 'openai.api_key',
  OPENAI_BASE_URL: 'openai.base_url',
  OPENAI_MODEL: 'openai.model',
  OPENAI_TEMPERATURE: 'openai.temperature',
  OPENAI_MAX_TOKENS: 'openai.max_tokens',
  OPENAI_TIMEOUT_MS: 'openai.timeout_ms',
  KAKAO_SKILL_SECRET: 'kakao.skill_secret',
  KAKAO_BOT_IDS: 'kakao.bot_ids',
  CALLBACK_ALLOWED_HOSTS: 'kakao.callback_allowed_hosts',
  CALLBACK_TTL_MS: 'kakao.callback_ttl_ms',
  WORKER_CONCURRENCY: 'worker.concurrency',
  WORKER_POLL_MS: 'worker.poll_ms',
  TASK_MAX_ATTEMPTS: 'worker.max_attempts',
}

/** Secrets are read from the environment only, never from a file that may be committed. */
const SECRET_PATHS: Record<string, string> = {
  'openai.api_key': 'OPENAI_API_KEY',
  admin_token: 'ADMIN_TOKEN',
  'kakao.skill_secret': 'KAKAO_SKILL_SECRET',
}

export interface ConfigFlags {
  config?: string
  port?: string | number
  host?: string
  databaseUrl?: string
  logLevel?: string
}

const FLAG_MAP: Record<keyof Omit<ConfigFlags, 'config'>, [string, string]> = {
  port: ['port', '--port'],
  host: ['host', '--host'],
  databaseUrl: ['database_url', '--database-url'],
  logLevel: ['log_level', '--log-level'],
}

type Tree = Record<string, unknown>

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = tree
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {}
    node = node[key] as Tree
  }
  node[keys[keys.length - 1]!] = value
}

function walk(tree: Tree, prefix: string, visit: (path: string) => void): void {
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    visit(path)
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)) {
      walk(value as Tree, path, visit)
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

export interface LoadConfigOptions {
  flags?: ConfigFlags
  env?: Record<string, string | undefined>
  cwd?: string
}

/**
 * Reads config.toml (path from `--config` or KBOT_CONFIG, else ./config.toml when present), overlays the
 * environment, then CLI flags, and validates the result once. Every problem is reported together.
 *
 * @example
 *   const config = loadConfig({ flags: { port: 9000 } })
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const flags = options.flags ?? {}
  const raw: Tree = {}
  const origin = new Map<string, string>()
  const problems: string[] = []

  const explicitPath = flags.config ?? env.KBOT_CONFIG
  const configPath = explicitPath
    ? resolve(cwd, explicitPath)
    : existsSync(resolve(cwd, 'config.toml'))
      ? resolve(cwd, 'config.toml')
      : null
  if (configPath) {
    try {
      const parsed = Bun.TOML.parse(readFileSync(configPath, 'utf8')) as Tree
      walk(parsed, '', (path) => {
        origin.set(path, `${path} in ${configPath}`)
        const envName = SECRET_PATHS[path]
        if (envName)
          problems.push(
            `${path} in ${configPath}: secrets are read from the environment only; set ${envName}`,
          )
      })
      for (const path of Object.keys(SECRET_PATHS)) deletePath(parsed, path)
      Object.assign(raw, parsed)
    } catch (err) {
      const reason =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message
      problems.push(`config file ${configPath}: ${reason}`)
    }
  }

  for (const [name, path] of Object.entries(ENV_MAP)) {
    const value = env[name]
    if (value === undefined || value.trim() === '') continue
    setPath(raw, path, value)
    origin.set(path, `${name} (environment)`)
  }

  for (const [flag, [path, label]] of Object.entries(FLAG_MAP)) {
    const value = flags[flag as keyof typeof FLAG_MAP]
    if (value === undefined) continue
    setPath(raw, path, value)
    origin.set(path, label)
  }

  const result = v.safeParse(ConfigSchema, raw, { abortEarly: false })
  if (!result.success) {
    for (const issue of result.issues) {
      const path = v.getDotPath(issue) ?? '(root)'
      const where = origin.get(path) ?? path
      const isUnknownKey = issue.expected === 'never'
      // A database URL may carry a password: never echo it.
      const shown =
        path === 'database_url' && typeof issue.input === 'string' ? redactUrl(issue.input) : issue.input
      const got = isUnknownKey ? '' : `, got ${JSON.stringify(shown)}`
      problems.push(isUnknownKey ? `${where}: unknown key` : `${where}: ${issue.message}${got}`)
    }
  }
  if (result.success) problems.push(...crossFieldProblems(result.output))
  if (problems.length > 0 || !result.success) {
    const n = problems.length
    throw new AppError(
      'CONFIG_INVALID',
      `Invalid configuration (${n} problem${n === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { details: problems },
    )
  }

  const config = {
    ...result.output,
    configPath,
    configDir: configPath ? resolve(configPath, '..') : cwd,
  }
  return deepFreeze(config)
}

/** Settings that are valid alone but not together. */
function crossFieldProblems(c: RawConfig): string[] {
  const problems: string[] = []
  if (c.kakao.inline_wait_ms >= c.kakao.turn_budget_ms) {
    problems.push(
      `kakao.inline_wait_ms (${c.kakao.inline_wait_ms}) must be less than kakao.turn_budget_ms (${c.kakao.turn_budget_ms})`,
    )
  }
  const window = c.kakao.callback_ttl_ms - c.worker.deadline_margin_ms - c.kakao.callback_settle_ms
  if (window < c.worker.min_attempt_ms) {
    problems.push(
      `CALLBACK_TTL_MS (${c.kakao.callback_ttl_ms}) leaves ${window} ms after worker.deadline_margin_ms and ` +
        `kakao.callback_settle_ms, less than worker.min_attempt_ms (${c.worker.min_attempt_ms}): no answer could ever make the callback`,
    )
  }
  return problems
}

function deletePath(tree: Tree, path: string): void {
  const keys = path.split('.')
  let node: unknown = tree
  for (const key of keys.slice(0, -1)) {
    node = (node as Tree | undefined)?.[key]
    if (typeof node !== 'object' || node === null) return
  }
  delete (node as Tree)[keys[keys.length - 1]!]
}
