import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { fmtMoney, fmtNum, t } from '../i18n.ts'
import { Card, messageOf, Status } from '../ui.tsx'
import type { Version } from './prompts.tsx'

interface Preview {
  reply: string
  model: string
  total_tokens: number | null
  cost_usd: number | null
  latency_ms: number
}

export function PreviewChat(props: { version: Version }) {
  const [turns, setTurns] = useState<{ role: 'user' | 'assistant'; content: string; meta?: string }[]>([])
  const [text, setText] = useState('')
  const [userName, setUserName] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  return (
    <Card title={`${t('pr.preview')} · ${props.version.name} v${props.version.version}`} wide>
      <p class="muted">{t('pr.previewNote')}</p>
      <ol class="chat" aria-live="polite" data-testid="preview-chat">
        {turns.map((m, i) => (
          <li key={i} class={m.role}>
            <span>{m.content}</span>
            {m.meta && <small>{m.meta}</small>}
          </li>
        ))}
      </ol>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault()
          if (!text.trim()) return
          const next = [...turns, { role: 'user' as const, content: text.trim() }]
          setTurns(next)
          setText('')
          setBusy(true)
          setError(null)
          try {
            const r = await api<Preview>('/admin/prompts/preview', {
              method: 'POST',
              body: {
                prompt_id: props.version.id,
                user_name: userName || undefined,
                messages: next.map(({ role, content }) => ({ role, content })),
              },
            })
            const meta = `${r.model} · ${fmtNum(r.total_tokens)} tok · ${fmtMoney(r.cost_usd)} · ${r.latency_ms} ms`
            setTurns([...next, { role: 'assistant', content: r.reply, meta }])
          } catch (err) {
            setError(messageOf(err))
          } finally {
            setBusy(false)
          }
        }}
      >
        <label>
          {t('pr.previewUser')}
          <input value={userName} onInput={(e) => setUserName(e.currentTarget.value)} />
        </label>
        <label class="grow">
          {t('pr.message')}
          <input name="preview-message" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {t('pr.send')}
        </button>
        <button type="button" onClick={() => setTurns([])}>
          {t('pr.reset')}
        </button>
      </form>
      <Status error={error} loading={busy} />
    </Card>
  )
}
