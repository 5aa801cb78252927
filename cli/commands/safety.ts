import { Command } from 'commander'
import { AppError } from '../../src/errors.ts'
import { listSafety, parseSince } from '../../src/services/safety.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

const clip = (s: string, n: number) => {
  const one = s.replace(/\s+/g, ' ')
  return one.length > n ? `${one.slice(0, n - 1)}…` : one
}

export function safetyCommand(): Command {
  const safety = new Command('safety').description(
    'counselling safety: conversations flagged by crisis-guard',
  )
  safety
    .command('list')
    .description('flagged conversations, newest flag first, with their last turns')
    .option('--since <when>', 'only flags since an ISO date/time or a span back from now (30m, 24h, 7d)')
    .option('--limit <n>', 'at most this many conversations', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { since?: string; limit: string }, cmd: Command) => {
      const since = parseSince(opts.since)
      if (!/^\d+$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 1000)
        throw new AppError('BAD_REQUEST', '--limit must be a whole number from 1 to 1000')
      const config = configFrom(cmd)
      await withStore(config, async (store) => {
        const list = await listSafety(store.db, { since, limit: Number(opts.limit) })
        output(cmd, { conversations: list }, () =>
          list.length === 0
            ? 'no flagged conversations'
            : list
                .map((c) =>
                  [
                    table(
                      ['flagged at', 'kinds', 'user', 'conversation'],
                      [[c.flagged_at, c.kinds.join(','), c.user_name ?? c.user_id, c.conversation_id]],
                    ),
                    ...c.last_turns.map(
                      (t) => `  ${t.role === 'user' ? '사용자' : '봇    '} ${clip(t.content, 100)}`,
                    ),
                  ].join('\n'),
                )
                .join('\n\n'),
        )
      })
    })
  return safety
}
