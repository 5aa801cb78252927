import { useState } from 'preact/hooks'
import { api, qs } from '../api.ts'
import { fmtMoney, fmtNum, fmtTime, t } from '../i18n.ts'
import { Card, Confirm, messageOf, Status, useLoad } from '../ui.tsx'

interface UserRow {
  id: string
  kakao_user_id: string
  name: string | null
  updated_at: string
}
interface Line {
  id: string
  role: 'user' | 'assistant'
  content: string
  created_at: string
  model?: string | null
  total_tokens?: number | null
  cost?: number | null
  latency_ms?: number | null
  prompt?: { name: string; version: number } | null
}
interface Transcript {
  currency: string
  user: { id: string; kakao_user_id: string; name: string | null; summary: string | null; created_at: string }
  crisis_flags: { type: string; detail: { kinds?: string[] } | null; created_at: string }[]
  conversations: {
    id: string
    started_at: string
    crisis_flagged: boolean
    crisis_kinds: string[]
    total_tokens: number
    cost: number
    messages: Line[]
  }[]
}

function UserTranscript(props: { id: string; onForgotten: () => void }) {
  const tr = useLoad(() => api<Transcript>(`/admin/users/${props.id}/transcript`), [props.id])
  const d = tr.data
  return (
    <div class="stack">
      <Status error={tr.error} loading={!d} />
      {d && (
        <Card title={`${t('cv.user')} · ${d.user.name ?? '–'}`} wide>
          <dl class="pairs">
            <div>
              <dt>{t('cv.key')}</dt>
              <dd class="mono">{d.user.kakao_user_id}</dd>
            </div>
            <div>
              <dt>{t('cv.summary')}</dt>
              <dd>{d.user.summary ?? t('none')}</dd>
            </div>
            <div>
              <dt>{t('cv.crisis')}</dt>
              <dd data-testid="crisis-count">
                {d.crisis_flags.length === 0
                  ? t('none')
                  : d.crisis_flags
                      .map((f) => `${(f.detail?.kinds ?? [f.type]).join('·')} (${fmtTime(f.created_at)})`)
                      .join(', ')}
              </dd>
            </div>
          </dl>
          <Confirm
            danger
            testId="forget"
            label={t('cv.forget')}
            question={t('cv.confirmForget')}
            onConfirm={async () => {
              await api(`/admin/users/${d.user.id}/forget`, { method: 'POST' })
              props.onForgotten()
            }}
          />
        </Card>
      )}
      {d?.conversations.map((c) => (
        <Card
          key={c.id}
          title={`${t('cv.conversation')} · ${fmtTime(c.started_at)} · ${fmtNum(c.total_tokens)} ${t('cv.tokens')} · ${fmtMoney(c.cost, d.currency)}`}
          wide
        >
          {c.crisis_flagged && (
            <p class="badge bad" data-testid="crisis-flag">
              {t('cv.flagged')}: {c.crisis_kinds.join(', ')}
            </p>
          )}
          <ol class="chat" data-testid="transcript">
            {c.messages.map((m) => (
              <li key={m.id} class={m.role}>
                <span>{m.content}</span>
                <small>
                  {m.role === 'user' ? t('cv.you') : t('cv.bot')} · {fmtTime(m.created_at)}
                  {m.role === 'assistant' &&
                    ` · ${m.model ?? ''} ${m.prompt ? `· ${m.prompt.name} v${m.prompt.version} ` : ''}· ${fmtNum(m.total_tokens)} ${t('cv.tokens')} · ${fmtMoney(m.cost, d.currency)}`}
                </small>
              </li>
            ))}
          </ol>
        </Card>
      ))}
    </div>
  )
}

export function Conversations() {
  const [q, setQ] = useState('')
  const [users, setUsers] = useState<UserRow[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [openId, setOpenId] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  return (
    <div class="stack">
      <form
        class="row"
        aria-label={t('cv.search')}
        onSubmit={async (e) => {
          e.preventDefault()
          setError(null)
          setOpenId(null)
          try {
            const found = await api<UserRow[]>(`/admin/users${qs({ q })}`)
            setUsers(found)
            if (found.length === 1) setOpenId(found[0]!.id)
          } catch (err) {
            setError(messageOf(err))
          }
        }}
      >
        <label class="grow">
          {t('cv.search')}
          <input name="q" type="search" value={q} required onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          {t('cv.find')}
        </button>
      </form>
      <Status error={error} />
      {notice && (
        <p class="notice" role="status" data-testid="notice">
          {notice}
        </p>
      )}
      {users && users.length === 0 && <p>{t('cv.noUsers')}</p>}
      {users && users.length > 1 && (
        <ul class="names" data-testid="users">
          {users.map((u) => (
            <li key={u.id}>
              <button type="button" class="link" onClick={() => setOpenId(u.id)}>
                {u.name ?? '–'}
              </button>{' '}
              <small class="mono">{u.kakao_user_id}</small> <small>{fmtTime(u.updated_at)}</small>
            </li>
          ))}
        </ul>
      )}
      {openId && (
        <UserTranscript
          key={openId}
          id={openId}
          onForgotten={() => {
            setNotice(t('cv.forgotten'))
            setUsers((list) => list?.filter((u) => u.id !== openId) ?? null)
            setOpenId(null)
          }}
        />
      )}
    </div>
  )
}
