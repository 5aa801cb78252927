import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, setCsrf, whenSignedOut } from './api.ts'
import { currentLang, type Key, setLang, t } from './i18n.ts'
import { Conversations } from './pages/conversations.tsx'
import { Overview } from './pages/overview.tsx'
import { Prompts } from './pages/prompts.tsx'
import { Tasks } from './pages/tasks.tsx'
import { Usage } from './pages/usage.tsx'
import './style.css'

const PAGES = {
  overview: Overview,
  prompts: Prompts,
  tasks: Tasks,
  conversations: Conversations,
  usage: Usage,
} as const
type Page = keyof typeof PAGES

const pageOf = (): Page => {
  const name = location.hash.replace(/^#\/?/, '').split('/')[0] ?? ''
  return name in PAGES ? (name as Page) : 'overview'
}

interface Session {
  csrf: string
  expires_at: string
}

function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  return (
    <main class="signin">
      <h1>{t('title')}</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault()
          setError(null)
          try {
            props.onSignedIn(await api<Session>('/console/login', { method: 'POST', body: { token } }))
          } catch {
            setError(t('signIn.wrong'))
          }
        }}
      >
        <h2>{t('signIn.title')}</h2>
        <label for="token">{t('signIn.token')}</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <button type="submit" class="primary">
          {t('signIn.submit')}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  )
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  const [page, setPage] = useState<Page>(pageOf())
  const [, setLangTick] = useState(currentLang())
  useEffect(() => {
    whenSignedOut(() => setSession(null))
    api<Session>('/console/session').then(
      (s) => setSession(s),
      () => setSession(null),
    )
    const onHash = () => setPage(pageOf())
    addEventListener('hashchange', onHash)
    return () => removeEventListener('hashchange', onHash)
  }, [])
  useEffect(() => {
    if (session) setCsrf(session.csrf)
  }, [session])
  useEffect(() => {
    document.title = `${t(`nav.${page}` as Key)} · ${t('title')}`
  })
  const toggleLang = () => {
    const next = currentLang() === 'ko' ? 'en' : 'ko'
    setLang(next)
    setLangTick(next)
  }
  const langButton = (
    <button type="button" class="link" onClick={toggleLang} data-testid="lang">
      {t('language')}
    </button>
  )
  if (session === undefined) return <p aria-busy="true">{t('loading')}</p>
  if (session === null)
    return (
      <>
        <div class="topright">{langButton}</div>
        <SignIn
          onSignedIn={(s) => {
            setCsrf(s.csrf)
            setSession(s)
          }}
        />
      </>
    )
  const Current = PAGES[page]
  return (
    <>
      <a class="skip" href="#content">
        {t(`nav.${page}` as Key)}
      </a>
      <header>
        <strong class="brand">{t('title')}</strong>
        <nav aria-label={t('nav.main')}>
          {(Object.keys(PAGES) as Page[]).map((p) => (
            <a key={p} href={`#/${p}`} aria-current={p === page ? 'page' : undefined}>
              {t(`nav.${p}` as Key)}
            </a>
          ))}
        </nav>
        <span class="tools">
          {langButton}
          <button
            type="button"
            class="link"
            onClick={async () => {
              await api('/console/logout', { method: 'POST' }).catch(() => {})
              setSession(null)
            }}
          >
            {t('signOut')}
          </button>
        </span>
      </header>
      <main id="content" tabIndex={-1}>
        <h1>{t(`nav.${page}` as Key)}</h1>
        <Current key={page} />
      </main>
    </>
  )
}

document.documentElement.lang = currentLang()
render(<App />, document.getElementById('app')!)
