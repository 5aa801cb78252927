import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import * as v from 'valibot'
import { ConfigSchema, type RawConfig } from './config/schema.ts'
import { AppError } from './errors.ts'
import { redactUrl } from './store/db.ts'

export { databaseUrl, normaliseDatabaseUrl } from './config/fields.ts'
export type { RawConfig }

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
  METRICS_TOKEN: 'metrics_token',
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
  SAFETY_WEBHOOK_URL: 'safety.webhook_url',
  SAFETY_WEBHOOK_ALLOWED_HOSTS: 'safety.webhook_allowed_hosts',
  SAFETY_MODERATION: 'safety.moderation',
}

/** Secrets are read from the environment only, never from a file that may be committed. */
const SECRET_PATHS: Record<string, string> = {
  'openai.api_key': 'OPENAI_API_KEY',
  admin_token: 'ADMIN_TOKEN',
  metrics_token: 'METRICS_TOKEN',
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
