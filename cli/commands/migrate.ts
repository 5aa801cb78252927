import { Command } from 'commander'
import { migrate, migrationStatus } from '../../src/store/migrate.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

export function migrateCommand(): Command {
  return new Command('migrate')
    .description('apply pending database migrations (each in its own transaction)')
    .option('--status', 'list applied and pending migrations instead of applying them')
    .option('--json', 'machine-readable output')
    .action(async (opts: { status?: boolean }, cmd: Command) => {
      const config = configFrom(cmd)
      await withStore(config, async (store) => {
        if (opts.status) {
          const status = await migrationStatus(store.db)
          output(cmd, { database: store.describe, migrations: status }, () =>
            [
              `database: ${store.describe}`,
              table(
                ['id', 'name', 'state', 'applied at'],
                status.map((s) => [
                  String(s.id).padStart(4, '0'),
                  s.name,
                  s.state,
                  s.appliedAt?.toISOString(),
                ]),
              ),
            ].join('\n'),
          )
          if (status.some((s) => s.state === 'drift' || s.state === 'unknown')) process.exitCode = 1
          return
        }
        const result = await migrate(store.db)
        output(cmd, { database: store.describe, ...result }, () =>
          result.applied.length === 0
            ? `database: ${store.describe}\nalready up to date (${result.alreadyApplied} applied)`
            : `database: ${store.describe}\napplied: ${result.applied.map((m) => `${String(m.id).padStart(4, '0')}_${m.name}`).join(', ')}`,
        )
      })
    })
}
