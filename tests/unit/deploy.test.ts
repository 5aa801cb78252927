import { describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { JSC_RAM_SIZE_HINT } from '../../src/util/runtime-env.ts'

/**
 * No Docker engine runs in CI: compose.yaml and the Dockerfile are checked by reading them (structure, the
 * order of the steps that matter), not by running them.
 */
const ROOT = join(import.meta.dir, '..', '..')
const read = (name: string) => readFileSync(join(ROOT, name), 'utf8')

describe('compose.yaml', () => {
  const compose = Bun.YAML.parse(read('compose.yaml')) as any
  const services = compose.services

  test('PostgreSQL 15 with a healthcheck and a volume', () => {
    expect(services.postgres.image).toBe('postgres:15')
    expect(services.postgres.healthcheck.test.join(' ')).toContain('pg_isready')
    expect(services.postgres.volumes[0]).toStartWith('pgdata:')
    expect(Object.keys(compose.volumes)).toContain('pgdata')
  })

  test('a one-shot migrate service runs `kbot migrate` once PostgreSQL is healthy', () => {
    expect(services.migrate.command).toEqual(['bun', 'cli/index.ts', 'migrate'])
    expect(services.migrate.restart).toBe('no')
    expect(services.migrate.depends_on.postgres.condition).toBe('service_healthy')
  })

  test('two kbot replicas start after migrate succeeded, without migrating themselves, with a healthcheck', () => {
    const kbot = services.kbot
    expect(kbot.deploy.replicas).toBe(2)
    expect(kbot.command).toEqual(['bun', 'cli/index.ts', 'serve', '--no-migrate'])
    expect(kbot.depends_on.migrate.condition).toBe('service_completed_successfully')
    expect(kbot.depends_on.postgres.condition).toBe('service_healthy')
    expect(kbot.healthcheck.test.join(' ')).toContain('/health')
    expect(kbot.ports).toBeUndefined() // two replicas cannot publish one host port; a proxy fronts them
  })

  test('kbot and migrate share the image, .env and a DATABASE_URL on the postgres service', () => {
    for (const name of ['kbot', 'migrate']) {
      const s = services[name]
      expect(s.build).toBe('.')
      expect(s.env_file).toBe('.env')
      expect(s.environment.DATABASE_URL).toMatch(
        /^postgres:\/\/kbot:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/kbot$/,
      )
    }
  })

  test('.env.example names every variable compose.yaml needs', () => {
    const example = read('.env.example')
    for (const name of ['POSTGRES_PASSWORD', 'OPENAI_API_KEY', 'ADMIN_TOKEN', 'METRICS_TOKEN'])
      expect(example).toMatch(new RegExp(`^${name}=`, 'm'))
  })

  test('the commands it runs exist', () => {
    expect(existsSync(join(ROOT, 'cli/commands/migrate.ts'))).toBe(true)
    expect(read('cli/commands/serve.ts')).toContain("'--no-migrate'")
  })
})

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l))

  test('runs as a non-root user that owns the data volume', () => {
    const chown = at(/^RUN .*mkdir -p \/data.*chown bun:bun \/data/)
    const volume = at(/^VOLUME \/data$/)
    const user = at(/^USER bun$/)
    expect(chown).toBeGreaterThan(-1)
    // Changes to a path after VOLUME declares it are discarded: the chown must come first.
    expect(volume).toBeGreaterThan(chown)
    expect(user).toBeGreaterThan(chown)
    expect(lines.join('\n')).toContain('DATABASE_URL=sqlite:/data/kbot.db')
  })

  test('has a healthcheck on /health and serves by default', () => {
    expect(lines[at(/^HEALTHCHECK /)]).toContain('/health')
    expect(lines.at(-1)).toBe('CMD ["bun", "cli/index.ts", "serve"]')
  })

  test('gives the process the same heap hint as `bun run kbot` (src/util/runtime-env.ts)', () => {
    const env = lines[at(/^ENV /)]!.split(/\s+/)
    expect(env).toContain(`BUN_JSC_forceRAMSize=${JSC_RAM_SIZE_HINT}`)
  })
})
