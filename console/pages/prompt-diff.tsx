import { useState } from 'preact/hooks'
import { api, qs } from '../api.ts'
import { t } from '../i18n.ts'
import { Card, Status, useLoad } from '../ui.tsx'
import type { Version } from './prompts.tsx'

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

export function DiffView(props: { name: string; versions: Version[] }) {
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
