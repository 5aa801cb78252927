import { api } from '../api.ts'
import { BarChart, LineChart } from '../chart.tsx'
import { fmtNum, fmtTime, t } from '../i18n.ts'
import { Card, Status, useLoad } from '../ui.tsx'

interface Health {
  status: 'ok' | 'degraded'
  version: string
  uptime_s: number
  workers: { size: number; busy: number; running: boolean; instance: string } | null
  ai: {
    configured: boolean
    model: string
    last_error: { error: string; at: string; task_id: string } | null
  }
  database: { ok: boolean; dialect: string; latency_ms?: number; error?: string }
  queue: { by_status: Record<string, number>; oldest_pending_age_s: number | null } | null
  callbacks_last_hour: Record<string, number> | null
}

interface Series {
  hours: { hour: string; calls: number; tokens: number; ack: { count: number; p95_ms: number | null } }[]
}

const duration = (s: number) =>
  s >= 86400
    ? `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
    : s >= 3600
      ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
      : `${Math.floor(s / 60)}m ${s % 60}s`

const Pairs = (props: { entries: [string, string | number][] }) => (
  <dl class="pairs">
    {props.entries.map(([k, v]) => (
      <div key={k}>
        <dt>{k}</dt>
        <dd>{v}</dd>
      </div>
    ))}
  </dl>
)

export function Overview() {
  const health = useLoad(() => api<Health>('/admin/health', { accept: [503] }), [], 10_000)
  const series = useLoad(() => api<Series>('/admin/series?hours=24'), [], 60_000)
  const h = health.data
  const hourLabel = (iso: string) => `${new Date(iso).getHours()}h`
  return (
    <div class="grid">
      <Status error={health.error ?? series.error} loading={!h} />
      {h && (
        <>
          <Card title={t('ov.status')}>
            <p class={h.status === 'ok' ? 'ok big' : 'bad big'} data-testid="health-status">
              {h.status}
            </p>
            <Pairs
              entries={[
                [
                  t('ov.database'),
                  h.database.ok
                    ? `${h.database.dialect} · ${h.database.latency_ms} ms`
                    : `✗ ${h.database.error}`,
                ],
                [t('ov.uptime'), duration(h.uptime_s)],
                [t('ov.version'), h.version],
              ]}
            />
          </Card>
          <Card title={t('ov.workers')}>
            <Pairs
              entries={
                h.workers
                  ? [
                      [t('ov.workers'), `${h.workers.busy} / ${h.workers.size} ${t('ov.busy')}`],
                      ['instance', h.workers.instance],
                    ]
                  : [[t('ov.workers'), t('none')]]
              }
            />
          </Card>
          <Card title={t('ov.queue')}>
            <Pairs
              entries={[
                ...Object.entries(h.queue?.by_status ?? {}).map(
                  ([k, n]) => [t(`tk.status.${k}` as never) ?? k, fmtNum(n)] as [string, string],
                ),
                [
                  t('ov.oldest'),
                  h.queue?.oldest_pending_age_s == null ? '–' : duration(h.queue.oldest_pending_age_s),
                ],
              ]}
            />
          </Card>
          <Card title={t('ov.model')}>
            <Pairs
              entries={[
                [
                  t('ov.model'),
                  `${h.ai.model} · ${h.ai.configured ? t('ov.aiConfigured') : t('ov.aiMissing')}`,
                ],
                [
                  t('ov.lastError'),
                  h.ai.last_error ? `${h.ai.last_error.error} (${fmtTime(h.ai.last_error.at)})` : t('none'),
                ],
              ]}
            />
          </Card>
          <Card title={t('ov.callbacks')}>
            <Pairs
              entries={
                Object.keys(h.callbacks_last_hour ?? {}).length
                  ? Object.entries(h.callbacks_last_hour ?? {}).map(([k, n]) => [k, fmtNum(n)])
                  : [['–', 0]]
              }
            />
          </Card>
        </>
      )}
      {series.data && (
        <>
          <section class="card wide">
            <LineChart
              id="ack-chart"
              title={t('ov.ackChart')}
              points={series.data.hours.map((r) => ({ label: hourLabel(r.hour), value: r.ack.p95_ms }))}
              format={(n) => fmtNum(n)}
            />
            <p class="muted">{t('ov.ackNote')}</p>
          </section>
          <section class="card wide">
            <BarChart
              id="tokens-chart"
              title={t('ov.tokenChart')}
              points={series.data.hours.map((r) => ({ label: hourLabel(r.hour), value: r.tokens }))}
              format={(n) => fmtNum(n)}
            />
          </section>
        </>
      )}
    </div>
  )
}
