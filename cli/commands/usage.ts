import { Command, Option } from 'commander'
import { formatCost, usageReport } from '../../src/services/usage.ts'
import { USAGE_GROUPS } from '../../src/store/usage.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

const n = (x: number) => x.toLocaleString('en-US')

export function usageCommand(): Command {
  return new Command('usage')
    .description('model calls, tokens and cost from promptlog, grouped (the last 30 days unless --from/--to)')
    .option('--from <date>', 'start, inclusive (YYYY-MM-DD in UTC, or an ISO time)')
    .option('--to <date>', 'end (a YYYY-MM-DD date includes that whole day)')
    .addOption(new Option('--by <group>', 'group rows by').choices([...USAGE_GROUPS]).default('day'))
    .option('--json', 'machine-readable output')
    .action(async (opts: { from?: string; to?: string; by: string }, cmd: Command) => {
      const config = configFrom(cmd)
      const report = await withStore(config, (store) =>
        usageReport(store.db, config, { from: opts.from, to: opts.to, by: opts.by }),
      )
      output(cmd, report, () => {
        const cost = (x: number) => formatCost(x, report.currency)
        const rows = report.rows.map((r) => [
          report.by === 'user' ? `${r.label} (${r.key.slice(-8)})` : r.key,
          n(r.calls),
          n(r.promptTokens),
          n(r.cachedTokens),
          n(r.completionTokens),
          cost(r.cost),
        ])
        const t = report.total
        rows.push([
          'total',
          n(t.calls),
          n(t.promptTokens),
          n(t.cachedTokens),
          n(t.completionTokens),
          cost(t.cost),
        ])
        const rate = report.currency === 'KRW' ? ` at ₩${report.rate}/USD` : ''
        return [
          `${report.from} – ${report.to}, by ${report.by}, cost in ${report.currency}${rate}`,
          table([report.by, 'calls', 'prompt', 'cached', 'completion', 'cost'], rows),
        ].join('\n')
      })
    })
}
