import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { isCallbackAllowed, parseHostRules, postCallback } from '../../src/delivery/callback.ts'
import type { SkillResponse } from '../../src/kakao/response.ts'

/** The two real callbackUrl forms (fixtures req-04 and req-10). */
const REAL_BANG =
  'https://bot-api.kakao.com/v1/bots/5ae9b76d7409b11ec845b746!/callback/-damddEwVMRHufi6uUr63Ir7veOUGTFaiVhcOWTOhijyBuCT-v4vu6V32YmyF8ZNqI8K7kn_tKY0'
const REAL_CBTOKEN =
  'https://bot-api.kakao.com/v1/bots/6615572a/callback/cbtoken:fea13896e2684a52bdccd324af20b1d1'

describe('parseHostRules', () => {
  test.each([
    ['bot-api.kakao.com', { scheme: 'https:', host: 'bot-api.kakao.com', port: null }],
    ['  BOT-API.Kakao.COM  ', { scheme: 'https:', host: 'bot-api.kakao.com', port: null }],
    ['https://bot-api.kakao.com/', { scheme: 'https:', host: 'bot-api.kakao.com', port: null }],
    ['*.example.com', { scheme: 'https:', host: '*.example.com', port: null }],
    ['http://127.0.0.1:9999', { scheme: 'http:', host: '127.0.0.1', port: '9999' }],
    ['HTTP://Localhost:8080', { scheme: 'http:', host: 'localhost', port: '8080' }],
    ['[::1]:8443', { scheme: 'https:', host: '[::1]', port: '8443' }],
  ])('%j', (entry, rule) => {
    expect(parseHostRules([entry])).toEqual([rule as never])
  })

  test.each([
    [''],
    ['https://'],
    ['ftp://bot-api.kakao.com'],
    ['bot-api.kakao.com/v1/bots'],
    ['user@bot-api.kakao.com'],
    ['*'],
    ['*.*.example.com'],
    ['example.*.com'],
    ['bot-api.kakao.com:https'],
    ['bot api.kakao.com'],
    ['https://bot-api.kakao.com?x=1'],
  ])('invalid entry %j throws, naming it', (entry) => {
    expect(() => parseHostRules(['bot-api.kakao.com', entry])).toThrow(
      `CALLBACK_ALLOWED_HOSTS entry is not [scheme://]host[:port]: ${entry}`,
    )
  })
})

describe('isCallbackAllowed', () => {
  const DEFAULT = parseHostRules(['bot-api.kakao.com'])

  test.each([
    ['the "!" bot-id form', REAL_BANG],
    ['the "cbtoken:" form', REAL_CBTOKEN],
    ['upper-case host', 'https://BOT-API.KAKAO.COM/v1/bots/1/callback/t'],
    ['upper-case scheme', 'HTTPS://bot-api.kakao.com/v1/bots/1/callback/t'],
    ['explicit default port', 'https://bot-api.kakao.com:443/v1/bots/1/callback/t'],
  ])('default rules allow %s', (_, url) => {
    expect(isCallbackAllowed(url, DEFAULT)).toBe(true)
  })

  test.each([
    ['plain http', 'http://bot-api.kakao.com/v1/bots/1/callback/t'],
    ['another port', 'https://bot-api.kakao.com:8443/v1/bots/1/callback/t'],
    ['port 80 over https', 'https://bot-api.kakao.com:80/v1/bots/1/callback/t'],
    ['a suffix domain', 'https://bot-api.kakao.com.evil.com/v1/bots/1/callback/t'],
    ['a prefixed host', 'https://evilbot-api.kakao.com/v1/bots/1/callback/t'],
    ['a subdomain', 'https://x.bot-api.kakao.com/v1/bots/1/callback/t'],
    ['the parent domain', 'https://kakao.com/v1/bots/1/callback/t'],
    ['userinfo before the host', 'https://bot-api.kakao.com@evil.com/'],
    ['userinfo with a password', 'https://bot-api.kakao.com:x@evil.com/'],
    ['userinfo on the right host', 'https://user:pw@bot-api.kakao.com/v1/bots/1/callback/t'],
    ['the host only in the fragment', 'https://evil.com#@bot-api.kakao.com'],
    ['the host only in the query', 'https://evil.com/?u=https://bot-api.kakao.com/'],
    ['an IPv4 literal', 'https://127.0.0.1/v1/bots/1/callback/t'],
    ['a metadata IP', 'https://169.254.169.254/latest/meta-data'],
    ['a hex IPv4 literal', 'https://0x7f.0.0.1/'],
    ['an IPv6 literal', 'https://[::1]/v1/bots/1/callback/t'],
    ['localhost', 'https://localhost/v1/bots/1/callback/t'],
    ['a trailing-dot host', 'https://bot-api.kakao.com./v1/bots/1/callback/t'],
    ['unparseable text', 'not a url'],
    ['a relative path', '/v1/bots/1/callback/t'],
    ['an empty string', ''],
    ['a scheme without host', 'https://'],
    ['another scheme', 'ftp://bot-api.kakao.com/'],
    ['javascript:', 'javascript:alert(1)'],
  ])('default rules refuse %s', (_, url) => {
    expect(isCallbackAllowed(url, DEFAULT)).toBe(false)
  })

  test.each([
    ['https://a.example.com/cb', true],
    ['https://a.b.example.com/cb', true],
    ['https://A.Example.COM/cb', true],
    ['https://example.com/cb', false],
    ['https://badexample.com/cb', false],
    ['https://a.example.com.evil.com/cb', false],
    ['http://a.example.com/cb', false],
    ['https://a.example.com:8443/cb', false],
  ])('wildcard *.example.com: %s → %p', (url, allowed) => {
    expect(isCallbackAllowed(url, parseHostRules(['*.example.com']))).toBe(allowed)
  })

  test.each([
    ['http://127.0.0.1:9999/v1/bots/1/callback/t', true],
    ['http://127.0.0.1:9999', true],
    ['https://127.0.0.1:9999/cb', false],
    ['http://127.0.0.1:9998/cb', false],
    ['http://127.0.0.1/cb', false],
    ['http://localhost:9999/cb', false],
    ['http://127.0.0.2:9999/cb', false],
    ['https://bot-api.kakao.com/v1/bots/1/callback/t', false],
  ])('explicit http://127.0.0.1:9999: %s → %p', (url, allowed) => {
    expect(isCallbackAllowed(url, parseHostRules(['http://127.0.0.1:9999']))).toBe(allowed)
  })

  test('upper-case rule entries match lower-case hosts', () => {
    expect(isCallbackAllowed(REAL_CBTOKEN, parseHostRules(['BOT-API.KAKAO.COM']))).toBe(true)
  })

  test('several rules: any one may allow', () => {
    const rules = parseHostRules(['bot-api.kakao.com', 'http://127.0.0.1:9999'])
    expect(isCallbackAllowed(REAL_BANG, rules)).toBe(true)
    expect(isCallbackAllowed('http://127.0.0.1:9999/cb', rules)).toBe(true)
    expect(isCallbackAllowed('http://127.0.0.1:9998/cb', rules)).toBe(false)
  })

  test('no rules allow nothing', () => {
    expect(isCallbackAllowed(REAL_BANG, [])).toBe(false)
  })
})

/** Loopback receivers: the only I/O in the unit suite, on 127.0.0.1 with ephemeral ports. */
describe('postCallback', () => {
  interface Received {
    method: string
    path: string
    contentType: string | null
    body: string
  }
  let received: Received[] = []
  let redirectTargetHits = 0
  let kakao: ReturnType<typeof Bun.serve>
  let redirectTarget: ReturnType<typeof Bun.serve>

  const body: SkillResponse = {
    version: '2.0',
    useCallback: true,
    template: {
      outputs: [{ simpleText: { text: '답변이에요. "따옴표"와 \\ 그리고 https://a.com/x_y?a=1&b=2' } }],
    },
  }

  beforeAll(() => {
    redirectTarget = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch() {
        redirectTargetHits++
        return Response.json({ status: 'SUCCESS' })
      },
    })
    kakao = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(req) {
        const url = new URL(req.url)
        received.push({
          method: req.method,
          path: url.pathname,
          contentType: req.headers.get('content-type'),
          body: await req.text(),
        })
        switch (url.pathname.split('/')[1]) {
          case 'success':
            return Response.json({ taskId: 'a1', status: 'SUCCESS', message: 'OK', timestamp: 1 })
          case 'fail':
            return Response.json({
              taskId: 'a2',
              status: 'FAIL',
              message: 'Invalid callback token. Check your callback token.',
              timestamp: 1,
            })
          case 'bad-request':
            return Response.json({ status: 'ERROR', message: 'Invalid skill-json format.' }, { status: 400 })
          case 'html-500':
            return new Response('<html>Internal Server Error</html>', {
              status: 500,
              headers: { 'content-type': 'text/html' },
            })
          case 'no-status':
            return new Response('', { status: 200 })
          case 'empty-403':
            return new Response('', { status: 403 })
          case 'json-null':
            return new Response('null', { status: 502 })
          case 'redirect':
            return new Response(null, {
              status: 302,
              headers: { location: `http://127.0.0.1:${redirectTarget.port}/success` },
            })
          default:
            return Response.json({ status: 'SUCCESS' })
        }
      },
    })
  })
  afterAll(() => {
    kakao.stop(true)
    redirectTarget.stop(true)
  })

  const at = (path: string) => `http://127.0.0.1:${kakao.port}${path}`
  const post = async (path: string) => {
    received = []
    return postCallback(at(path), body, 5000)
  }

  test('status SUCCESS → ok', async () => {
    expect(await post('/success/x')).toEqual({
      ok: true,
      httpStatus: 200,
      kakaoStatus: 'SUCCESS',
      message: 'OK',
    })
  })

  test('HTTP 200 with an empty body → ok (judged by the HTTP status)', async () => {
    expect(await post('/no-status/x')).toEqual({
      ok: true,
      httpStatus: 200,
      kakaoStatus: null,
      message: null,
    })
  })

  test('HTTP 200 with status FAIL → not ok, with Kakao’s message', async () => {
    expect(await post('/fail/x')).toEqual({
      ok: false,
      httpStatus: 200,
      kakaoStatus: 'FAIL',
      message: 'Invalid callback token. Check your callback token.',
    })
  })

  test('HTTP 400 → not ok', async () => {
    expect(await post('/bad-request/x')).toEqual({
      ok: false,
      httpStatus: 400,
      kakaoStatus: 'ERROR',
      message: 'Invalid skill-json format.',
    })
  })

  test('non-JSON 500 → not ok, with the start of the body', async () => {
    expect(await post('/html-500/x')).toEqual({
      ok: false,
      httpStatus: 500,
      kakaoStatus: null,
      message: '<html>Internal Server Error</html>',
    })
  })

  test('a 302 redirect is not followed', async () => {
    redirectTargetHits = 0
    const outcome = await post('/redirect/x')
    expect(outcome.ok).toBe(false)
    expect(outcome.httpStatus).toBe(302)
    expect(received).toHaveLength(1)
    expect(redirectTargetHits).toBe(0)
  })

  test.each([
    ['/empty-403/x', 403],
    ['/json-null/x', 502],
  ])(
    'a rejection with no usable body (%s) has no message, so the caller records the HTTP status',
    async (path, status) => {
      const outcome = await post(path)
      expect(outcome).toEqual({
        ok: false,
        httpStatus: status,
        kakaoStatus: null,
        message: path.includes('null') ? 'null' : null,
      })
    },
  )

  test('connection refused → not ok, with a message', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
    const port = closed.port
    closed.stop(true)
    const outcome = await postCallback(`http://127.0.0.1:${port}/cb`, body, 5000)
    expect(outcome.ok).toBe(false)
    expect(outcome.httpStatus).toBeNull()
    expect(outcome.kakaoStatus).toBeNull()
    expect(outcome.message).toStartWith('request failed: ')
    expect(outcome.message!.length).toBeGreaterThan('request failed: '.length)
  })

  test.each([
    [
      'the "!" form',
      '/v1/bots/5ae9b76d7409b11ec845b746!/callback/-damddEwVMRHufi6uUr63Ir7veOUGTFaiVhcOWTOhijyBuCT-v4vu6V32YmyF8ZNqI8K7kn_tKY0',
    ],
    ['the "cbtoken:" form', '/v1/bots/6615572a/callback/cbtoken:fea13896e2684a52bdccd324af20b1d1'],
    ['a token with ! : - _ ~ and a percent escape', '/v1/bots/b!/callback/cbtoken:a-b_c~d!e:f%2Fg'],
  ])('sends %s path byte for byte, the JSON body, and content-type application/json', async (_, path) => {
    const outcome = await post(path)
    expect(outcome.ok).toBe(true)
    expect(received).toHaveLength(1)
    const [hit] = received
    expect(hit!.method).toBe('POST')
    expect(hit!.path).toBe(path)
    expect(hit!.contentType).toBe('application/json')
    expect(hit!.body).toBe(JSON.stringify(body))
    expect(JSON.parse(hit!.body)).toEqual(body)
  })
})

describe('default ports written out', () => {
  test('bot-api.kakao.com:443 allows the real callback URLs (a URL reports no port for 443)', () => {
    const rules = parseHostRules(['bot-api.kakao.com:443', 'http://127.0.0.1:80'])
    expect(isCallbackAllowed('https://bot-api.kakao.com/v1/bots/x/callback/cbtoken:abc', rules)).toBe(true)
    expect(isCallbackAllowed('https://bot-api.kakao.com:8443/v1/bots/x/callback/t', rules)).toBe(false)
    expect(isCallbackAllowed('http://127.0.0.1/cb', rules)).toBe(true)
  })
})
