import { useState } from 'preact/hooks'
import { api, qs } from '../api.ts'
import { fmtMoney, fmtNum, fmtTime, t } from '../i18n.ts'
import { Card, Confirm, messageOf, Status, useLoad } from '../ui.tsx'

interface Summary {
  name: string
  active_version: number | null
  versions: number
}
interface Version {
  id: string
  name: string
  version: number
  system_prompt: string
  description: string | null
  model: string | null
  temperature: number | null
  max_tokens: number | null
  is_active: boolean
  created_at: string
}
interface Diff {
  params: { field: string; from: unknown; to: unknown }[]
  lines: { op: ' ' | '-' | '+'; text: string }[]
}

/** Pairs a line diff into rows of (before, after), so the two versions read side by side. */
function sideBySide(lines: Diff['lines']) {
  const rows: { a: string | null; b: string | null; op: 'same' | 'change' }[] = []
  let i = 0
  while (i < lines.length) {
    if (lines[i]!.op === ' ') {
      rows.push({ a: lines[i]!.text, b: lines[i]!.text, op: 'same' })
      i++
      continue
    }
    const del: string[] = []
    const add: string[] = []
    while (i < lines.length && lines[i]!.op === '-') del.push(lines[i++]!.text)
    while (i < lines.length && lines[i]!.op === '+') add.push(lines[i++]!.text)
    for (let k = 0; k < Math.max(del.length, add.length); k++)
      rows.push({ a: del[k] ?? null, b: add[k] ?? null, op: 'change' })
  }
  return rows
}

function DiffView(props: { name: string; versions: Version[] }) {
  const sorted = [...props.versions].sort((a, b) => a.version - b.version)
  const [from, setFrom] = useState(sorted[Math.max(0, sorted.length - 2)]?.version ?? 1)
  const [to, setTo] = useState(sorted[sorted.length - 1]?.version ?? 1)
  const diff = useLoad(
    () => api<Diff>(`/admin/prompts/${encodeURIComponent(props.name)}/diff${qs({ from, to })}`),
    [props.name, from, to],
  )
  const pick = (value: number, set: (n: number) => void, label: string) => (
    <label>
      {label}{' '}
      <select value={value} onChange={(e) => set(Number(e.currentTarget.value))}>
        {sorted.map((v) => (
          <option key={v.id} value={v.version}>
            v{v.version}
          </option>
        ))}
      </select>
    </label>
  )
  return (
    <Card title={t('pr.diff')} wide>
      <div class="row">
        {pick(from, setFrom, t('pr.from'))}
        {pick(to, setTo, t('pr.to'))}
      </div>
      <Status error={diff.error} />
      {diff.data && diff.data.params.length > 0 && (
        <p>
          {t('pr.params')}:{' '}
          {diff.data.params.map((p) => `${p.field}: ${String(p.from)} → ${String(p.to)}`).join(', ')}
        </p>
      )}
      {diff.data && (
        <div class="scroll">
          <table class="diff" data-testid="diff">
            <thead>
              <tr>
                <th>v{from}</th>
                <th>v{to}</th>
              </tr>
            </thead>
            <tbody>
              {sideBySide(diff.data.lines).map((r, i) => (
                <tr key={i} class={r.op}>
                  <td class={r.a !== null && r.op === 'change' ? 'del' : ''}>{r.a ?? ''}</td>
                  <td class={r.b !== null && r.op === 'change' ? 'add' : ''}>{r.b ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  )
}

function Editor(props: {
  base: Partial<Version> & { name: string }
  onDone: (v: Version) => void
  onCancel: () => void
}) {
  const b = props.base
  const [name, setName] = useState(b.name)
  const [system, setSystem] = useState(b.system_prompt ?? '')
  const [description, setDescription] = useState(b.description ?? '')
  const [model, setModel] = useState(b.model ?? '')
  const [temperature, setTemperature] = useState(b.temperature == null ? '' : String(b.temperature))
  const [maxTokens, setMaxTokens] = useState(b.max_tokens == null ? '' : String(b.max_tokens))
  const [activate, setActivate] = useState(false)
  const [error, setError] = useState<string | null>(null)
  return (
    <Card title={b.version ? `${t('pr.newFrom')} (v${b.version})` : t('pr.newName')} wide>
      <form
        class="stack"
        onSubmit={async (e) => {
          e.preventDefault()
          setError(null)
          try {
            const created = await api<Version>('/admin/prompts', {
              method: 'POST',
              body: {
                name,
                system_prompt: system,
                description: description || null,
                model: model || null,
                temperature: temperature === '' ? null : Number(temperature),
                max_tokens: maxTokens === '' ? null : Number(maxTokens),
                activate,
              },
            })
            props.onDone(created)
          } catch (err) {
            setError(messageOf(err))
          }
        }}
      >
        <label>
          {t('pr.name')}
          <input
            value={name}
            readOnly={Boolean(b.version)}
            required
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          {t('pr.system')}
          <textarea
            name="system_prompt"
            rows={10}
            required
            value={system}
            onInput={(e) => setSystem(e.currentTarget.value)}
          />
        </label>
        <label>
          {t('pr.description')}
          <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <div class="row">
          <label>
            {t('pr.model')}
            <input value={model} onInput={(e) => setModel(e.currentTarget.value)} />
          </label>
          <label>
            {t('pr.temperature')}
            <input
              inputMode="decimal"
              value={temperature}
              onInput={(e) => setTemperature(e.currentTarget.value)}
            />
          </label>
          <label>
            {t('pr.maxTokens')}
            <input
              inputMode="numeric"
              value={maxTokens}
              onInput={(e) => setMaxTokens(e.currentTarget.value)}
            />
          </label>
        </div>
        <label class="check">
          <input type="checkbox" checked={activate} onChange={(e) => setActivate(e.currentTarget.checked)} />
          {t('pr.activateNow')}
        </label>
        <Status error={error} />
        <div class="row">
          <button type="submit" class="primary">
            {t('pr.create')}
          </button>
          <button type="button" onClick={props.onCancel}>
            {t('cancel')}
          </button>
        </div>
      </form>
    </Card>
  )
}

interface Preview {
  reply: string
  model: string
  total_tokens: number | null
  cost_usd: number | null
  latency_ms: number
}

function PreviewChat(props: { version: Version }) {
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

export function Prompts() {
  const list = useLoad(() => api<Summary[]>('/admin/prompts'), [])
  const [name, setName] = useState<string | null>(null)
  const selected = name ?? list.data?.[0]?.name ?? null
  const detail = useLoad(
    () =>
      selected
        ? api<{ versions: Version[] }>(`/admin/prompts/${encodeURIComponent(selected)}`)
        : Promise.resolve(null),
    [selected],
  )
  const [editing, setEditing] = useState<(Partial<Version> & { name: string }) | null>(null)
  const [previewing, setPreviewing] = useState<Version | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const versions = [...(detail.data?.versions ?? [])].sort((a, b) => b.version - a.version)
  const active = versions.find((v) => v.is_active)
  const refresh = () => {
    list.reload()
    detail.reload()
  }
  return (
    <div class="split">
      <aside class="card">
        <h2>{t('pr.names')}</h2>
        <Status error={list.error} loading={!list.data} />
        <ul class="names">
          {list.data?.map((p) => (
            <li key={p.name}>
              <button
                type="button"
                class="link"
                aria-current={p.name === selected ? 'true' : undefined}
                onClick={() => {
                  setName(p.name)
                  setEditing(null)
                  setPreviewing(null)
                }}
              >
                {p.name}
              </button>{' '}
              <small>
                v{p.active_version ?? '–'} · {p.versions} {t('pr.versions')}
              </small>
            </li>
          ))}
        </ul>
        <button type="button" onClick={() => setEditing({ name: '' })}>
          {t('pr.newName')}
        </button>
      </aside>
      <div class="stack">
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {editing && (
          <Editor
            base={editing}
            onCancel={() => setEditing(null)}
            onDone={(v) => {
              setEditing(null)
              setName(v.name)
              setNotice(`${t('pr.created.ok')}: ${v.name} v${v.version}`)
              refresh()
            }}
          />
        )}
        <Status error={detail.error} />
        {selected && versions.length > 0 && (
          <Card title={selected} wide>
            <div class="scroll">
              <table data-testid="versions">
                <thead>
                  <tr>
                    <th>{t('pr.version')}</th>
                    <th>{t('pr.description')}</th>
                    <th>{t('pr.model')}</th>
                    <th>{t('pr.created')}</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {versions.map((v) => (
                    <tr key={v.id} data-version={v.version}>
                      <td>
                        v{v.version} {v.is_active && <span class="badge ok">{t('pr.active')}</span>}
                      </td>
                      <td>{v.description ?? ''}</td>
                      <td>{v.model ?? '–'}</td>
                      <td>{fmtTime(v.created_at)}</td>
                      <td class="actions">
                        {!v.is_active && (
                          <Confirm
                            testId={`activate-${v.version}`}
                            label={active && v.version < active.version ? t('pr.rollback') : t('pr.activate')}
                            question={t('pr.confirmActivate')}
                            onConfirm={async () => {
                              try {
                                await api(`/admin/prompts/${v.id}/activate`, { method: 'POST' })
                                setNotice(`${t('pr.activated')}: ${v.name} v${v.version}`)
                              } catch (err) {
                                setNotice(messageOf(err))
                              }
                              refresh()
                            }}
                          />
                        )}
                        <button
                          type="button"
                          data-testid={`new-from-${v.version}`}
                          onClick={() => setEditing(v)}
                        >
                          {t('pr.newFrom')}
                        </button>
                        <button
                          type="button"
                          data-testid={`preview-${v.version}`}
                          onClick={() => setPreviewing(v)}
                        >
                          {t('pr.preview')}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Card>
        )}
        {previewing && <PreviewChat key={previewing.id} version={previewing} />}
        {selected && versions.length > 1 && (
          <DiffView key={`${selected}-${versions.length}`} name={selected} versions={versions} />
        )}
      </div>
    </div>
  )
}
