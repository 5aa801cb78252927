import { useState } from 'preact/hooks'
import { api, qs } from '../api.ts'
import { fmtNum, fmtTime, type Key, t } from '../i18n.ts'
import { Card, Confirm, messageOf, Status, useLoad } from '../ui.tsx'

interface Task {
  task_id: string
  status: 'pending' | 'processing' | 'completed' | 'failed'
  ai_response: string | null
  tokens_used: number | null
  attempts: number
  max_attempts: number
  error: string | null
  callback_status: string
  user_id: string
  conversation_id: string | null
  model: string
  prompt: { name: string; version: number } | null
  created_at: string
  started_at: string | null
  completed_at: string | null
  delivered_at: string | null
  deadline_at: string
}
interface Page {
  tasks: Task[]
  total: number
  limit: number
  offset: number
}

const STATUSES = ['', 'pending', 'processing', 'completed', 'failed'] as const
const LIMIT = 25
const statusLabel = (s: string) => t(`tk.status.${s}` as Key)

function Detail(props: { task: Task; onClose: () => void; onRetried: (note: string) => void }) {
  const x = props.task
  const rows: [string, string][] = [
    [t('tk.filter'), statusLabel(x.status)],
    [t('tk.callback'), x.callback_status],
    [t('tk.attempts'), `${x.attempts} / ${x.max_attempts}`],
    [t('tk.tokens'), fmtNum(x.tokens_used)],
    [t('tk.model'), x.model],
    [t('tk.prompt'), x.prompt ? `${x.prompt.name} v${x.prompt.version}` : '–'],
    [t('tk.user'), x.user_id],
    [t('tk.created'), fmtTime(x.created_at)],
    [t('tk.completed'), fmtTime(x.completed_at)],
    [t('tk.delivered'), fmtTime(x.delivered_at)],
    [t('tk.deadline'), fmtTime(x.deadline_at)],
  ]
  return (
    <Card title={`${t('tk.detail')} · ${x.task_id}`} wide>
      <div data-testid="task-detail">
        <dl class="pairs">
          {rows.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
        {x.error && (
          <p class="error">
            {t('tk.error')}: <span data-testid="task-error">{x.error}</span>
          </p>
        )}
        {x.ai_response && (
          <>
            <h3>{t('tk.response')}</h3>
            <pre class="wrap">{x.ai_response}</pre>
          </>
        )}
        <div class="row">
          {x.status === 'failed' && (
            <Confirm
              testId="retry"
              label={t('tk.retry')}
              question={`${t('tk.retry')}?`}
              onConfirm={async () => {
                try {
                  const r = await api<{ note: string }>(`/admin/ai-tasks/${x.task_id}/retry`, {
                    method: 'POST',
                  })
                  props.onRetried(`${t('tk.retried')}: ${r.note}`)
                } catch (err) {
                  props.onRetried(messageOf(err))
                }
              }}
            />
          )}
          <button type="button" onClick={props.onClose}>
            {t('tk.close')}
          </button>
        </div>
      </div>
    </Card>
  )
}

export function Tasks() {
  const [status, setStatus] = useState<(typeof STATUSES)[number]>('')
  const [offset, setOffset] = useState(0)
  const [openId, setOpenId] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const page = useLoad(
    () => api<Page>(`/admin/ai-tasks${qs({ status, limit: LIMIT, offset })}`),
    [status, offset],
    5000,
  )
  const open = page.data?.tasks.find((x) => x.task_id === openId) ?? null
  return (
    <div class="stack">
      <fieldset class="row" aria-label={t('tk.filter')}>
        {STATUSES.map((s) => (
          <button
            key={s}
            type="button"
            aria-pressed={status === s}
            data-testid={`filter-${s || 'all'}`}
            onClick={() => {
              setStatus(s)
              setOffset(0)
            }}
          >
            {s ? statusLabel(s) : t('tk.all')}
          </button>
        ))}
        <span class="muted">{t('tk.auto')}</span>
      </fieldset>
      {notice && (
        <p class="notice" role="status" data-testid="notice">
          {notice}
        </p>
      )}
      <Status error={page.error} loading={!page.data} />
      {open && (
        <Detail
          task={open}
          onClose={() => setOpenId(null)}
          onRetried={(note) => {
            setNotice(note)
            page.reload()
          }}
        />
      )}
      {page.data && (
        <Card title={`${t('nav.tasks')} (${fmtNum(page.data.total)})`} wide>
          {page.data.tasks.length === 0 ? (
            <p>{t('tk.empty')}</p>
          ) : (
            <div class="scroll">
              <table data-testid="tasks">
                <thead>
                  <tr>
                    <th>{t('tk.id')}</th>
                    <th>{t('tk.filter')}</th>
                    <th>{t('tk.callback')}</th>
                    <th>{t('tk.attempts')}</th>
                    <th>{t('tk.created')}</th>
                    <th>{t('tk.error')}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.data.tasks.map((x) => (
                    <tr key={x.task_id} data-status={x.status}>
                      <td>
                        <button type="button" class="link mono" onClick={() => setOpenId(x.task_id)}>
                          {x.task_id.slice(-12)}
                        </button>
                      </td>
                      <td>
                        <span class={`badge ${x.status}`}>{statusLabel(x.status)}</span>
                      </td>
                      <td>{x.callback_status}</td>
                      <td>
                        {x.attempts}/{x.max_attempts}
                      </td>
                      <td>{fmtTime(x.created_at)}</td>
                      <td class="clip">{x.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div class="row">
            <button
              type="button"
              disabled={offset === 0}
              onClick={() => setOffset(Math.max(0, offset - LIMIT))}
            >
              {t('tk.prev')}
            </button>
            <span>
              {page.data.total === 0 ? 0 : offset + 1}–{Math.min(offset + LIMIT, page.data.total)} /{' '}
              {page.data.total}
            </span>
            <button
              type="button"
              disabled={offset + LIMIT >= page.data.total}
              onClick={() => setOffset(offset + LIMIT)}
            >
              {t('tk.next')}
            </button>
          </div>
        </Card>
      )}
    </div>
  )
}
