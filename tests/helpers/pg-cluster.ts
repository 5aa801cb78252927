import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { register, tempDir } from './cleanup.ts'

/**
 * A private PostgreSQL cluster that a test may stop and restart without touching the machine's shared server.
 * `initdb` refuses to run as root, so the binaries run as the `postgres` user when we are root.
 */
export interface PgCluster {
  url: string
  port: number
  stop(mode?: 'fast' | 'immediate'): void
  start(): void
  destroy(): void
}

function binDir(): string | null {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return null
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a))
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin')
  return null
}

export function pgClusterAvailable(): boolean {
  return binDir() !== null
}

/**
 * For a test that needs a private cluster: true when it can run, false (with a loud notice) when this machine
 * has no PostgreSQL server binaries; under CI=true that is an error, never a silent skip.
 */
export function requirePgCluster(): boolean {
  if (pgClusterAvailable()) return true
  const message = 'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql'
  if (process.env.CI === 'true') throw new Error(`CI=true: ${message}; the private-cluster tests cannot run`)
  console.warn(`\n!! ${message}: private-cluster tests are SKIPPED.\n`)
  return false
}

export function createPgCluster(): PgCluster {
  const bin = binDir()
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql')
  const root = process.getuid?.() === 0
  const dir = tempDir('pg')
  chmodSync(dir, 0o777)
  const data = join(dir, 'data')
  const port = 20000 + Math.floor(Math.random() * 20000)
  const run = (args: string[]) => {
    const cmd = root ? ['runuser', '-u', 'postgres', '--', ...args] : args
    const r = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' })
    if (r.exitCode !== 0)
      throw new Error(`${args.join(' ')} failed: ${r.stderr.toString()}${r.stdout.toString()}`)
  }
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
  const start = () =>
    run([join(bin, 'pg_ctl'), '-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start'])
  // Synchronous, so that it also works from an exit handler: stop the server at once, remove its files.
  const destroySync = () => {
    try {
      if (existsSync(join(data, 'postmaster.pid')))
        run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'])
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true })
  }
  // Registered before initdb: a cluster whose start-up fails (or a test that times out) is still destroyed.
  const release = register({
    kind: 'cluster',
    label: `PostgreSQL cluster ${dir} (port ${port})`,
    release: destroySync,
    releaseSync: destroySync,
  })
  run([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop: (mode = 'fast') => run([join(bin, 'pg_ctl'), '-D', data, '-m', mode, '-w', 'stop']),
    destroy() {
      void release()
    },
  }
}
