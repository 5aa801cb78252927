import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../errors.ts'
import { DEFAULT_SUMMARY_PROMPT, SUMMARY_PROMPT_NAME } from '../memory/summary-prompt.ts'
import type { Db, Dialect } from './db.ts'
import { seedPrompt } from './memory.ts'
import { seedDefaultPrompt } from './prompts.ts'

export const MIGRATIONS_DIR = join(import.meta.dir, '..', '..', 'migrations')

export interface MigrationFile {
  id: number
  name: string
  sql: string
  checksum: string
}

export type MigrationState = 'applied' | 'pending' | 'drift' | 'unknown'

export interface MigrationStatus {
  id: number
  name: string
  state: MigrationState
  appliedAt: Date | null
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/

const checksumOf = (sql: string) => createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex')

/** Reads `migrations/<dialect>/NNNN_name.sql`; numbering must start at 1 with no gaps. */
export function readMigrations(dialect: Dialect, dir = MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(join(dir, dialect))
    .filter((f) => f.endsWith('.sql'))
    .sort()
  return files.map((file, index) => {
    const match = FILE.exec(file)
    if (!match)
      throw new AppError('MIGRATION_FAILED', `migration file name must look like 0001_name.sql: ${file}`)
    const id = Number(match[1])
    if (id !== index + 1) {
      throw new AppError(
        'MIGRATION_FAILED',
        `migration numbering has a gap or duplicate at ${file} (expected ${index + 1})`,
      )
    }
    const sql = readFileSync(join(dir, dialect, file), 'utf8')
    return { id, name: match[2]!, sql, checksum: checksumOf(sql) }
  })
}

const LEDGER = {
  postgres: `create table if not exists kbot_migration (
    id integer primary key, name text not null, checksum text not null,
    applied_at timestamptz not null default now())`,
  sqlite: `create table if not exists kbot_migration (
    id integer primary key, name text not null, checksum text not null,
    applied_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`,
}

/**
 * Serialises migrators. PostgreSQL: a transaction-scoped advisory lock per schema, so two `kbot migrate`
 * processes started together take turns and the second sees the first one's ledger rows. SQLite: the
 * adapter's transactions are BEGIN IMMEDIATE, which already admits one writer at a time.
 */
async function lock(tx: Db): Promise<void> {
  if (tx.dialect === 'postgres') {
    await tx.query(`select pg_advisory_xact_lock(hashtext(current_schema() || '.kbot_migrate'))`)
  }
}

interface LedgerRow {
  id: number
  name: string
  checksum: string
  applied_at: Date | string
}

async function readLedger(db: Db): Promise<LedgerRow[]> {
  return db.query<LedgerRow>('select id, name, checksum, applied_at from kbot_migration order by id')
}

async function ensureLedger(db: Db): Promise<void> {
  await db.tx(async (tx) => {
    await lock(tx)
    await tx.exec(LEDGER[tx.dialect])
  })
}

export async function migrationStatus(
  db: Db,
  dir = MIGRATIONS_DIR,
  files = readMigrations(db.dialect, dir),
): Promise<MigrationStatus[]> {
  await ensureLedger(db)
  const ledger = new Map((await readLedger(db)).map((row) => [Number(row.id), row]))
  const status: MigrationStatus[] = files.map((file) => {
    const row = ledger.get(file.id)
    ledger.delete(file.id)
    if (!row) return { id: file.id, name: file.name, state: 'pending', appliedAt: null }
    return {
      id: file.id,
      name: file.name,
      state: row.checksum === file.checksum ? 'applied' : 'drift',
      appliedAt: new Date(row.applied_at),
    }
  })
  for (const row of ledger.values()) {
    status.push({ id: Number(row.id), name: row.name, state: 'unknown', appliedAt: new Date(row.applied_at) })
  }
  return status
}

function refuseDrift(status: MigrationStatus[]): void {
  const drift = status.filter((s) => s.state === 'drift')
  if (drift.length > 0) {
    throw new AppError(
      'MIGRATION_DRIFT',
      `migration file changed after it was applied: ${drift.map((d) => `${String(d.id).padStart(4, '0')}_${d.name}`).join(', ')}. ` +
        'Restore the original file and put the change in a new migration.',
    )
  }
  const unknown = status.filter((s) => s.state === 'unknown')
  if (unknown.length > 0) {
    throw new AppError(
      'MIGRATION_FAILED',
      `the database has migrations this kbot does not know (${unknown.map((u) => u.id).join(', ')}); it is newer than this build`,
    )
  }
}

export interface MigrateResult {
  applied: { id: number; name: string }[]
  alreadyApplied: number
}

/**
 * Applies pending migrations, each in its own transaction together with its ledger row, then seeds the
 * default prompt when none exists. Running it twice changes nothing; an edited applied file is drift.
 */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const files = readMigrations(db.dialect, dir)
  const status = await migrationStatus(db, dir, files)
  refuseDrift(status)
  const applied: MigrateResult['applied'] = []
  let alreadyApplied = 0
  // Nothing pending (every start after the first): no transaction per file. A migrator racing this one can
  // only apply files this build does not know, which the next start refuses as 'unknown'.
  const pending = status.some((s) => s.state === 'pending')
  if (!pending) alreadyApplied = files.length
  for (const file of pending ? files : []) {
    const done = await db.tx(async (tx) => {
      await lock(tx)
      // Re-read under the lock: another process may have applied it while we waited.
      const rows = await tx.query<LedgerRow>('select id, checksum from kbot_migration where id = $1', [
        file.id,
      ])
      if (rows[0]) {
        if (rows[0].checksum !== file.checksum) refuseDrift(await migrationStatus(tx, dir, files))
        return false
      }
      try {
        await tx.exec(file.sql)
      } catch (err) {
        throw new AppError(
          'MIGRATION_FAILED',
          `migration ${file.id}_${file.name} failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        )
      }
      await tx.query('insert into kbot_migration (id, name, checksum) values ($1, $2, $3)', [
        file.id,
        file.name,
        file.checksum,
      ])
      return true
    })
    if (done) applied.push({ id: file.id, name: file.name })
    else alreadyApplied++
  }
  // Under the same lock, so that two migrators starting together seed one default prompt, not two.
  await db.tx(async (tx) => {
    await lock(tx)
    await seedDefaultPrompt(tx)
    await seedPrompt(tx, {
      name: SUMMARY_PROMPT_NAME,
      systemPrompt: DEFAULT_SUMMARY_PROMPT,
      description: '장기 기억: 대화 요약 프롬프트',
    })
  })
  return { applied, alreadyApplied }
}
