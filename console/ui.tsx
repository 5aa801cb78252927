import type { ComponentChildren } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError } from './api.ts'
import { t } from './i18n.ts'

/** Loads data on mount (and every `everyMs`, when given); `reload()` fetches again at once. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number) {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [tick, setTick] = useState(0)
  const reload = useCallback(() => setTick((n) => n + 1), [])
  useEffect(() => {
    let live = true
    const run = () =>
      load().then(
        (d) => {
          if (!live) return
          setData(d)
          setError(null)
        },
        (e: unknown) => live && setError(messageOf(e)),
      )
    run()
    const timer = everyMs ? setInterval(run, everyMs) : undefined
    return () => {
      live = false
      if (timer) clearInterval(timer)
    }
  }, [...deps, tick])
  return { data, error, reload, setData }
}

export const messageOf = (e: unknown) =>
  e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e)

export function Status(props: { error: string | null; loading?: boolean }) {
  if (props.error)
    return (
      <p class="error" role="alert">
        {t('error')}: {props.error}
      </p>
    )
  return props.loading ? <p aria-busy="true">{t('loading')}</p> : null
}

/** An action that asks first: the first press shows the question with confirm / cancel buttons. */
export function Confirm(props: {
  label: string
  question: string
  onConfirm: () => Promise<void> | void
  danger?: boolean
  testId?: string
}) {
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  if (!asking)
    return (
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        data-testid={props.testId}
        onClick={() => setAsking(true)}
      >
        {props.label}
      </button>
    )
  return (
    <fieldset class="confirm" aria-label={props.question}>
      <span>{props.question}</span>
      <button
        type="button"
        class={props.danger ? 'danger' : 'primary'}
        disabled={busy}
        data-testid={props.testId ? `${props.testId}-confirm` : undefined}
        ref={(el) => el?.focus()}
        onClick={async () => {
          setBusy(true)
          try {
            await props.onConfirm()
          } finally {
            setBusy(false)
            setAsking(false)
          }
        }}
      >
        {t('confirm')}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        {t('cancel')}
      </button>
    </fieldset>
  )
}

export const Card = (props: { title: string; children: ComponentChildren; wide?: boolean }) => (
  <section class={props.wide ? 'card wide' : 'card'}>
    <h2>{props.title}</h2>
    {props.children}
  </section>
)
