import { createInterface } from 'node:readline/promises'
import { Command } from 'commander'
import { AppError } from '../../src/errors.ts'
import { forgetUser, showUser } from '../../src/services/users.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

/** "y" to a question on a terminal; never asked when stdin is not one (scripts must pass --yes). */
async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim())
  } finally {
    rl.close()
  }
}

export function usersCommand(): Command {
  const users = new Command('users').description('what kbot keeps about a user, and erasing it')

  users
    .command('show <key>')
    .description('a user by Kakao user key (botUserKey) or appuser id: the row, the summary, rows per table')
    .option('--json', 'machine-readable output')
    .action(async (key: string, _opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const views = await showUser(store.db, key)
        output(cmd, views, () =>
          views
            .map((u) =>
              [
                table(
                  ['field', 'value'],
                  [
                    ['id', u.id],
                    ['bot_id', u.bot_id || '-'],
                    ['kakao_user_id', u.kakao_user_id],
                    ['plusfriend_user_key', u.plusfriend_user_key],
                    ['name', u.name],
                    ['name_state', u.name_state],
                    ['created_at', u.created_at],
                    ['summary_updated_at', u.summary_updated_at],
                    ...Object.entries(u.rows).map(([t, n]) => [`rows in ${t}`, n]),
                  ],
                ),
                `summary: ${u.summary ?? '-'}`,
              ].join('\n'),
            )
            .join('\n\n'),
        )
      })
    })

  users
    .command('forget <key>')
    .description('erase every row of a user (messages, summary, prompt logs, tasks, events, name) at once')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'machine-readable output')
    .action(async (key: string, opts: { yes?: boolean }, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const views = await showUser(store.db, key)
        if (!opts.yes) {
          const ok = await confirmed(
            `erase ${views.length} user(s) with key ${key} and every row about them? [y/N] `,
          )
          if (!ok) throw new AppError('BAD_REQUEST', 'nothing erased: confirm on a terminal or pass --yes')
        }
        const outcome = await forgetUser(store.db, key)
        output(cmd, outcome, () =>
          outcome.users
            .map(
              (u) =>
                `erased user ${u.id}: ${Object.entries(u.erased)
                  .map(([t, n]) => `${n} ${t}`)
                  .join(', ')}`,
            )
            .join('\n'),
        )
      })
    })

  return users
}
