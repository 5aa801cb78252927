import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { fmtTime, t } from '../i18n.ts'
import { Card, Confirm, messageOf, Status, useLoad } from '../ui.tsx'
import { DiffView } from './prompt-diff.tsx'
import { PreviewChat } from './prompt-preview.tsx'

interface Summary {
  name: string
  active_version: number | null
  versions: number
}
export interface Version {
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
