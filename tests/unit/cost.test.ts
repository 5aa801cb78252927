import { describe, expect, test } from 'bun:test'
import { Writable } from 'node:stream'
import { costOf, createCostCalculator, DEFAULT_PRICES, type PriceTable } from '../../src/ai/cost.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'

const M = 1_000_000
const usage = (promptTokens: number, completionTokens: number, cachedTokens = 0) => ({
  promptTokens,
  completionTokens,
  cachedTokens,
})

describe('costOf', () => {
  test('a known usage costs exactly: 1,000 prompt (400 cached) and 200 completion tokens on gpt-4o', () => {
    const expected = (600 * 2.5 + 400 * 1.25 + 200 * 10) / 1e6
    expect(costOf({}, 'gpt-4o-2024-08-06', usage(1000, 200, 400))).toBe(expected)
    expect(expected).toBe(0.004)
  })

  test.each([
    ['gpt-4o', M, M, 0, 12.5],
    ['gpt-4o', M, 0, M, 1.25],
    ['gpt-4o-mini', M, M, 0, 0.75],
    ['gpt-4o-mini-2024-07-18', 2000, 500, 1000, (1000 * 0.15 + 1000 * 0.075 + 500 * 0.6) / M],
    ['gpt-4.1', M, 0, 0, 2],
    ['gpt-4.1-mini', 0, M, 0, 1.6],
    ['gpt-4.1-nano-2025-04-14', M, M, 0, 0.5],
    ['gpt-4o', 0, 0, 0, 0],
  ])('%s, %i in, %i out, %i cached → $%d', (model, input, output, cached, usd) => {
    expect(costOf({}, model, usage(input, output, cached))).toBeCloseTo(usd, 12)
  })

  test('the published defaults', () => {
    expect(DEFAULT_PRICES['gpt-4o']).toEqual({ input: 2.5, cached_input: 1.25, output: 10 })
    expect(DEFAULT_PRICES['gpt-4o-mini']).toEqual({ input: 0.15, cached_input: 0.075, output: 0.6 })
  })

  test('cached tokens beyond the prompt tokens are capped (never a negative uncached count)', () => {
    expect(costOf({}, 'gpt-4o', usage(100, 0, 500))).toBeCloseTo((100 * 1.25) / M, 15)
  })

  test.each([['gpt-4'], ['gpt-3.5-turbo'], ['claude-3'], ['GPT-4O'], ['']])(
    'unknown model %j costs nothing',
    (model) => {
      expect(costOf({}, model, usage(10, 10))).toBe(0)
    },
  )

  test.each([
    [null, 10],
    [10, null],
    [undefined, 10],
    [null, null],
  ])('no usage (%p / %p) → null, not free', (input, output) => {
    expect(costOf({}, 'gpt-4o', { promptTokens: input, completionTokens: output })).toBeNull()
  })

  test('overrides replace a default, add a model, and a longer prefix wins', () => {
    const overrides: PriceTable = {
      'gpt-4o': { input: 5, cached_input: 5, output: 20 },
      'my-llm': { input: 1, cached_input: 0.5, output: 2 },
      'gpt-4o-mini-2024': { input: 1, cached_input: 1, output: 1 },
    }
    expect(costOf(overrides, 'gpt-4o-2024-08-06', usage(M, M))).toBeCloseTo(25, 12)
    expect(costOf(overrides, 'gpt-4o-mini', usage(M, M))).toBeCloseTo(0.75, 12)
    expect(costOf(overrides, 'gpt-4o-mini-2024-07-18', usage(M, M))).toBeCloseTo(2, 12)
    expect(costOf(overrides, 'my-llm-7b', usage(M, M, M))).toBeCloseTo(2.5, 12)
    expect(DEFAULT_PRICES['gpt-4o']!.input).toBe(2.5)
  })
})

describe('createCostCalculator', () => {
  test('warns once per unpriced model, and not for a priced one', () => {
    const lines: string[] = []
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk))
        cb()
      },
    })
    const cost = createCostCalculator({ prices: {}, log: createLogger({ level: 'info', destination }) })
    expect(cost('my-llm', usage(10, 10))).toBe(0)
    expect(cost('my-llm', usage(10, 10))).toBe(0)
    expect(cost('other-llm', usage(10, 10))).toBe(0)
    expect(cost('gpt-4o', usage(M, 0))).toBe(2.5)
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40)
    expect(warnings.map((w) => w.model)).toEqual(['my-llm', 'other-llm'])
  })
})

describe('[openai.prices] config', () => {
  const load = (toml: string) => {
    const dir = `${require('node:os').tmpdir()}/kbot-cost-${Bun.randomUUIDv7()}`
    require('node:fs').mkdirSync(dir)
    require('node:fs').writeFileSync(`${dir}/config.toml`, toml)
    return () => loadConfig({ cwd: dir, env: { KBOT_CONFIG: `${dir}/config.toml` } })
  }

  test('reads the table form and the older [input, output] pair', async () => {
    const read = load(
      '[openai.prices]\n"a-model" = { input = 1.0, cached_input = 0.25, output = 4.0 }\n"b-model" = [2.0, 8.0]\n"c-model" = { input = 3.0, output = 6.0 }\n',
    )
    const prices = read().openai.prices
    expect(prices['a-model']).toEqual({ input: 1, cached_input: 0.25, output: 4 })
    expect(prices['b-model']).toEqual({ input: 2, cached_input: 2, output: 8 })
    expect(prices['c-model']).toEqual({ input: 3, cached_input: 3, output: 6 })
  })

  test('a negative or misspelt price is refused with the key named', async () => {
    const read = load('[openai.prices]\n"a-model" = { input = -1.0, output = 4.0 }\n')
    expect(read).toThrow(/openai\.prices\.a-model/)
    const misspelt = load('[openai.prices]\n"a-model" = { inptu = 1.0, output = 4.0 }\n')
    expect(misspelt).toThrow(/openai\.prices/)
  })

  test('[usage] currency must be USD or KRW', async () => {
    const read = load('[usage]\ncurrency = "EUR"\n')
    expect(read).toThrow(/usage\.currency/)
  })
})
