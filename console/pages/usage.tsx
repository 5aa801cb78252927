import { useState } from 'preact/hooks'
import { api, qs } from '../api.ts'
import { BarChart } from '../chart.tsx'
import { fmtMoney, fmtNum, t } from '../i18n.ts'
import { Card, Status, useLoad } from '../ui.tsx'

type By = 'day' | 'prompt' | 'model'

/** One row of `GET /admin/usage`, cost already in the configured display currency. */
export interface UsageRow {
  key: string
  label: string
  calls: number
  promptTokens: number
  cachedTokens: number
  completionTokens: number
  cost: number
}
export interface UsageReport {
  currency: string
  rows: UsageRow[]
}

const day = (d: Date) => d.toISOString().slice(0, 10)

/** Every day of the range, so quiet days read as zero bars instead of vanishing (presentation only). */
function everyDay(rows: UsageRow[], from: string, to: string) {
  const byKey = new Map(rows.map((r) => [r.key, r.cost]))
  const out: { label: string; value: number }[] = []
  for (
    let d = new Date(`${from}T00:00:00Z`);
    day(d) <= to && out.length < 400;
    d = new Date(d.getTime() + 86_400_000)
  )
    out.push({ label: day(d).slice(5), value: byKey.get(day(d)) ?? 0 })
  return out
}

export function Usage() {
  const [by, setBy] = useState<By>('day')
  const [from, setFrom] = useState(day(new Date(Date.now() - 29 * 86_400_000)))
  const [to, setTo] = useState(day(new Date()))
  const report = useLoad(() => api<UsageReport>(`/admin/usage${qs({ from, to, by })}`), [from, to, by])
  const r = report.data
  const money = (n: number) => fmtMoney(n, r?.currency)
  const total = r?.rows.reduce(
    (s, x) => ({
      calls: s.calls + x.calls,
      tokens: s.tokens + x.promptTokens + x.completionTokens,
      cost: s.cost + x.cost,
    }),
    { calls: 0, tokens: 0, cost: 0 },
  )
  return (
    <div class="stack">
      <div class="row">
        <label>
          {t('us.from')} <input type="date" value={from} onChange={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          {t('us.to')} <input type="date" value={to} onChange={(e) => setTo(e.currentTarget.value)} />
        </label>
        <fieldset class="row" aria-label={t('us.by')}>
          {(['day', 'prompt', 'model'] as const).map((b) => (
            <button
              key={b}
              type="button"
              aria-pressed={by === b}
              data-testid={`by-${b}`}
              onClick={() => setBy(b)}
            >
              {t(`us.${b}`)}
            </button>
          ))}
        </fieldset>
      </div>
      <Status error={report.error} loading={!r} />
      {r && r.rows.length === 0 && <p>{t('us.empty')}</p>}
      {r && r.rows.length > 0 && (
        <>
          <section class="card wide">
            <BarChart
              id="usage-chart"
              title={`${t('us.chart')} (${r.currency}) · ${t(`us.${by}`)}`}
              points={
                by === 'day'
                  ? everyDay(r.rows, from, to)
                  : r.rows.map((x) => ({ label: x.label, value: x.cost }))
              }
              format={money}
            />
          </section>
          <Card title={`${t(`us.${by}`)} · ${r.currency}`} wide>
            <div class="scroll">
              <table data-testid="usage-table">
                <thead>
                  <tr>
                    <th>{t('us.key')}</th>
                    <th class="num">{t('us.calls')}</th>
                    <th class="num">{t('us.tokens')}</th>
                    <th class="num">{t('us.cost')}</th>
                  </tr>
                </thead>
                <tbody>
                  {r.rows.map((x) => (
                    <tr key={x.key}>
                      <td>{x.label}</td>
                      <td class="num">{fmtNum(x.calls)}</td>
                      <td class="num">{fmtNum(x.promptTokens + x.completionTokens)}</td>
                      <td class="num">{money(x.cost)}</td>
                    </tr>
                  ))}
                </tbody>
                {total && (
                  <tfoot>
                    <tr>
                      <th>{t('us.total')}</th>
                      <th class="num">{fmtNum(total.calls)}</th>
                      <th class="num">{fmtNum(total.tokens)}</th>
                      <th class="num">{money(total.cost)}</th>
                    </tr>
                  </tfoot>
                )}
              </table>
            </div>
          </Card>
        </>
      )}
    </div>
  )
}
