import { describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, normaliseDatabaseUrl } from '../../src/config.ts'
import { AppError } from '../../src/errors.ts'
import { tempDir } from '../helpers/cleanup.ts'

const dir = tempDir('config')
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    expect((err as AppError).code).toBe('CONFIG_INVALID')
    return (err as AppError).details as string[]
  }
  throw new Error('expected the configuration to be refused')
}

describe('loadConfig', () => {
  test('defaults without any source: port 8000, SQLite at ./data/kbot.db', () => {
    const c = loadConfig({ env: {}, cwd: dir })
    expect(c.port).toBe(8000)
    expect(c.host).toBe('0.0.0.0')
    expect(c.database_url).toBe('sqlite:./data/kbot.db')
    expect(c.openai.model).toBe('gpt-4o')
    expect(c.openai.temperature).toBe(0.2)
    expect(c.openai.max_tokens).toBe(1000)
    expect(c.openai.timeout_ms).toBe(30_000)
    expect(c.session_timeout_minutes).toBe(30)
    expect(c.kakao.callback_allowed_hosts).toEqual(['bot-api.kakao.com'])
    expect(c.kakao.callback_ttl_ms).toBe(60_000)
    expect(c.worker).toMatchObject({ concurrency: 3, poll_ms: 2000, max_attempts: 3 })
    expect(c.pipeline.order).toEqual([
      'late-answer',
      'crisis-guard',
      'forget-me',
      'name-command',
      'rate-limit',
      'prompt-resolver',
      'history-context',
      'ai-dispatch',
    ])
    expect(c.log_level).toBe('info')
    expect(c.debug).toBe(false)
  })

  test('every SPEC §2 environment variable is read', () => {
    const c = loadConfig({
      cwd: dir,
      env: {
        DATABASE_URL: 'postgres://u@h:5432/db',
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
        OPENAI_MODEL: 'gpt-4o-mini',
        OPENAI_TEMPERATURE: '0.7',
        OPENAI_MAX_TOKENS: '500',
        OPENAI_TIMEOUT_MS: '1000',
        SESSION_TIMEOUT_MINUTES: '10',
        PORT: '9001',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
        DEBUG: 'true',
        ADMIN_TOKEN: 'admintok',
        KAKAO_SKILL_SECRET: 's3cret',
        KAKAO_BOT_IDS: 'a, b ,c',
        CALLBACK_ALLOWED_HOSTS: 'bot-api.kakao.com,*.example.com,http://127.0.0.1:9999',
        CALLBACK_TTL_MS: '30000',
        WORKER_CONCURRENCY: '5',
        WORKER_POLL_MS: '500',
        TASK_MAX_ATTEMPTS: '4',
      },
    })
    expect(c).toMatchObject({
      database_url: 'postgres://u@h:5432/db',
      session_timeout_minutes: 10,
      port: 9001,
      host: '127.0.0.1',
      log_level: 'debug',
      debug: true,
      admin_token: 'admintok',
    })
    expect(c.openai).toMatchObject({
      api_key: 'sk-test',
      base_url: 'http://127.0.0.1:9/v1',
      model: 'gpt-4o-mini',
      temperature: 0.7,
      max_tokens: 500,
      timeout_ms: 1000,
    })
    expect(c.kakao).toMatchObject({
      skill_secret: 's3cret',
      bot_ids: ['a', 'b', 'c'],
      callback_allowed_hosts: ['bot-api.kakao.com', '*.example.com', 'http://127.0.0.1:9999'],
      callback_ttl_ms: 30_000,
    })
    expect(c.worker).toMatchObject({ concurrency: 5, poll_ms: 500, max_attempts: 4 })
  })

  test('flags beat the environment, which beats the file, which beats defaults', () => {
    const path = file(
      'layers.toml',
      'port = 7000\nhost = "10.0.0.1"\nlog_level = "warn"\n[openai]\nmodel = "file-model"\n',
    )
    const c = loadConfig({
      cwd: dir,
      env: { KBOT_CONFIG: path, PORT: '7100', OPENAI_MODEL: 'env-model' },
      flags: { port: '7200' },
    })
    expect(c.port).toBe(7200)
    expect(c.openai.model).toBe('env-model')
    expect(c.host).toBe('10.0.0.1')
    expect(c.log_level).toBe('warn')
    expect(c.configPath).toBe(path)
  })

  test('--config beats KBOT_CONFIG', () => {
    const a = file('a.toml', 'port = 1111\n')
    const b = file('b.toml', 'port = 2222\n')
    expect(loadConfig({ cwd: dir, env: { KBOT_CONFIG: a }, flags: { config: b } }).port).toBe(2222)
  })

  test('every problem is reported together, each with its source', () => {
    const path = file('bad.toml', 'nonsense = 1\n[worker]\nconcurrency = "many"\n')
    const found = problems(() =>
      loadConfig({ cwd: dir, env: { KBOT_CONFIG: path, PORT: 'abc', DATABASE_URL: 'mysql://x' } }),
    )
    expect(found).toHaveLength(4)
    expect(found.join('\n')).toContain(
      'PORT (environment): must be a whole number from 0 to 65535, got "abc"',
    )
    expect(found.join('\n')).toContain('DATABASE_URL (environment): must be sqlite:<path> or postgres://')
    expect(found.join('\n')).toContain(`nonsense in ${path}: unknown key`)
    expect(found.join('\n')).toContain(`worker.concurrency in ${path}: must be a whole number`)
  })

  test('the thrown message lists every problem in one readable block', () => {
    try {
      loadConfig({ cwd: dir, env: { PORT: '70000', OPENAI_TEMPERATURE: 'hot' } })
      throw new Error('unreachable')
    } catch (err) {
      expect((err as Error).message).toStartWith('Invalid configuration (2 problems):\n  - ')
    }
  })

  test('secrets in the file are refused: they come from the environment only', () => {
    const path = file('secret.toml', 'admin_token = "x"\n[openai]\napi_key = "sk-live"\n')
    const found = problems(() => loadConfig({ cwd: dir, env: { KBOT_CONFIG: path } }))
    expect(found.some((p) => p.includes('set OPENAI_API_KEY'))).toBe(true)
    expect(found.some((p) => p.includes('set ADMIN_TOKEN'))).toBe(true)
    expect(found.join('\n')).not.toContain('sk-live')
  })

  test('a missing config file is a problem, not a silent default', () => {
    const found = problems(() => loadConfig({ cwd: dir, env: { KBOT_CONFIG: join(dir, 'nope.toml') } }))
    expect(found[0]).toContain('file not found')
  })

  test('invalid TOML is reported', () => {
    const path = file('broken.toml', 'port = = 3\n')
    expect(problems(() => loadConfig({ cwd: dir, env: { KBOT_CONFIG: path } }))[0]).toContain('broken.toml')
  })

  test('empty environment values count as unset', () => {
    expect(loadConfig({ cwd: dir, env: { PORT: '', OPENAI_MODEL: '  ' } }).port).toBe(8000)
  })

  test('the config is frozen', () => {
    const c = loadConfig({ cwd: dir, env: {} })
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.worker)).toBe(true)
  })
})

describe('DATABASE_URL forms', () => {
  test.each([
    ['postgresql+asyncpg://u:p@h:5432/db', 'postgres://u:p@h:5432/db'],
    ['postgresql://u@h/db', 'postgres://u@h/db'],
    ['postgres://u@h/db?sslmode=require', 'postgres://u@h/db?sslmode=require'],
    ['sqlite:./data/kbot.db', 'sqlite:./data/kbot.db'],
    ['sqlite::memory:', 'sqlite::memory:'],
    ['sqlite:///./old.db', 'sqlite:./old.db'],
    ['sqlite+aiosqlite:////var/lib/kbot.db', 'sqlite:/var/lib/kbot.db'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseDatabaseUrl(input)).toBe(expected)
    expect(loadConfig({ cwd: dir, env: { DATABASE_URL: input } }).database_url).toBe(expected)
  })

  test.each(['mysql://x', 'redis://h', 'sqlite:', 'not a url'])('%s is refused', (input) => {
    expect(problems(() => loadConfig({ cwd: dir, env: { DATABASE_URL: input } }))[0]).toContain(
      'DATABASE_URL',
    )
  })
})

describe('config.example.toml', () => {
  const example = join(import.meta.dir, '..', '..', 'config.example.toml')

  test('is valid and documents the true defaults', () => {
    const fromExample = loadConfig({ cwd: dir, env: { KBOT_CONFIG: example } })
    const defaults = loadConfig({ cwd: dir, env: {} })
    const strip = ({ configPath: _p, configDir: _d, ...rest }: typeof defaults) => rest
    expect(strip(fromExample)).toEqual(strip(defaults))
  })

  test('names every key of the schema', () => {
    const text = Bun.file(example).text()
    const defaults = loadConfig({ cwd: dir, env: {} }) as unknown as Record<string, unknown>
    const missing: string[] = []
    return text.then((toml) => {
      const visit = (obj: Record<string, unknown>, prefix: string) => {
        for (const [key, value] of Object.entries(obj)) {
          if (key === 'configPath' || key === 'configDir') continue
          if (!new RegExp(`^\\s*#?\\s*\\[?${key.replace('.', '\\.')}\\b`, 'm').test(toml))
            missing.push(prefix + key)
          if (
            value &&
            typeof value === 'object' &&
            !Array.isArray(value) &&
            key !== 'plugins' &&
            key !== 'paths'
          ) {
            visit(value as Record<string, unknown>, `${prefix}${key}.`)
          }
        }
      }
      visit(defaults, '')
      for (const secret of ['api_key', 'skill_secret', 'admin_token', 'base_url']) {
        if (!toml.includes(secret)) missing.push(secret)
      }
      expect(missing).toEqual([])
    })
  })
})

describe('settings that only fail together', () => {
  test('the inline wait must fit in the turn budget', () => {
    const path = file('budget.toml', '[kakao]\ninline_wait_ms = 4000\nturn_budget_ms = 3000\n')
    expect(problems(() => loadConfig({ cwd: dir, env: { KBOT_CONFIG: path } }))).toEqual([
      'kakao.inline_wait_ms (4000) must be less than kakao.turn_budget_ms (3000)',
    ])
  })

  test('a callback lifetime with no room for a model attempt is refused', () => {
    const found = problems(() => loadConfig({ cwd: dir, env: { CALLBACK_TTL_MS: '5000' } }))
    expect(found).toHaveLength(1)
    expect(found[0]).toStartWith('CALLBACK_TTL_MS (5000) leaves -1000 ms')
  })
})

test('a database URL in an error never shows its password', () => {
  const found = problems(() =>
    loadConfig({ cwd: dir, env: { DATABASE_URL: 'mysql://kbot:s3cr@t@db:3306/x' } }),
  )
  expect(found[0]).not.toContain('s3cr')
  expect(found[0]).toContain('mysql://kbot:***@db:3306/x')
})
