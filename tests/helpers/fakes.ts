import { afterAll, beforeAll } from 'bun:test'
import { registerStop } from './cleanup.ts'
import { type FakeKakao, startFakeKakao } from './fake-kakao.ts'
import { type FakeOpenAI, type FakeReply, startFakeOpenAI } from './fake-openai.ts'

export interface Fakes {
  /** The model: an OpenAI-compatible server driven through the real SDK. */
  readonly model: FakeOpenAI
  /** Kakao's callback receiver: single use, expiry, Kakao's reply shape. */
  readonly kakao: FakeKakao
  /** The environment a kbot (in-process or `kbot serve`) needs to use both. */
  readonly env: Record<string, string>
}

/**
 * The fake model and the fake Kakao receiver for one describe block: started in its beforeAll, closed in its
 * afterAll (and registered for cleanup at exit). Use the returned object inside tests and hooks.
 */
export function useFakes(modelDefaults: FakeReply = {}): Fakes {
  let started: { model: FakeOpenAI; kakao: FakeKakao; release: (() => Promise<void>)[] } | null = null
  beforeAll(() => {
    const model = startFakeOpenAI(modelDefaults)
    const kakao = startFakeKakao()
    const release = [
      registerStop('server', 'fake model', () => model.close()),
      registerStop('server', 'fake Kakao receiver', () => kakao.close()),
    ]
    started = { model, kakao, release }
  })
  afterAll(async () => {
    await Promise.all(started?.release.map((r) => r()) ?? [])
  })
  const current = () => {
    if (!started) throw new Error('useFakes() used before its beforeAll ran')
    return started
  }
  return {
    get model() {
      return current().model
    },
    get kakao() {
      return current().kakao
    },
    get env() {
      const { model, kakao } = current()
      return { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: model.url, CALLBACK_ALLOWED_HOSTS: kakao.origin }
    },
  }
}
