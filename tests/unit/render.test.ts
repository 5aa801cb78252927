import { describe, expect, test } from 'bun:test'
import { koreanDate, renderPrompt } from '../../src/prompts/render.ts'

describe('renderPrompt', () => {
  const vars = { user_name: '민수', today: '2026년 11월 25일 (수)', summary: '' }

  test.each([
    [
      'known variables',
      '{{user_name}} 님, 오늘은 {{today}}입니다.',
      '민수 님, 오늘은 2026년 11월 25일 (수)입니다.',
    ],
    ['whitespace inside the braces', '{{ user_name }}/{{  today\t}}', '민수/2026년 11월 25일 (수)'],
    ['a variable used twice', '{{user_name}}{{user_name}}', '민수민수'],
    ['an unknown variable renders as empty text', '안녕 {{nickname}}!', '안녕 !'],
    ['an empty value', '요약: [{{summary}}]', '요약: []'],
    ['upper-case names are names too (unknown here)', '{{USER_NAME}}', ''],
    [
      'not a variable name: left alone',
      '{{user-name}} {{1st}} {{}} { {user_name} }',
      '{{user-name}} {{1st}} {{}} { {user_name} }',
    ],
    ['single braces left alone', '{user_name}', '{user_name}'],
    ['no variables', '평범한 프롬프트', '평범한 프롬프트'],
    ['empty template', '', ''],
  ])('%s', (_, template, expected) => {
    expect(renderPrompt(template, vars)).toBe(expected)
  })

  test('values are inserted literally: no $-patterns, no second pass', () => {
    expect(renderPrompt('[{{a}}] [{{b}}]', { a: "$& $1 $$ $'", b: '{{a}}' })).toBe("[$& $1 $$ $'] [{{a}}]")
  })

  test('inherited object keys are not variables', () => {
    expect(renderPrompt('[{{constructor}}] [{{toString}}]', {})).toBe('[] []')
  })
})

describe('koreanDate', () => {
  test.each([
    // instant (UTC), Asia/Seoul date
    ['2026-11-24T16:30:00Z', '2026년 11월 25일 (수)'],
    ['2026-11-24T14:59:59Z', '2026년 11월 24일 (화)'],
    ['2026-11-24T15:00:00Z', '2026년 11월 25일 (수)'],
    ['2026-12-31T15:00:00Z', '2027년 1월 1일 (금)'],
    ['2024-02-28T15:00:00Z', '2024년 2월 29일 (목)'],
    ['2026-01-04T03:00:00Z', '2026년 1월 4일 (일)'],
    ['2026-01-10T00:00:00Z', '2026년 1월 10일 (토)'],
  ])('%s in Asia/Seoul → %s', (iso, expected) => {
    expect(koreanDate(new Date(iso))).toBe(expected)
    expect(koreanDate(new Date(iso), 'Asia/Seoul')).toBe(expected)
  })

  test.each([
    ['UTC', '2026년 11월 24일 (화)'],
    ['America/Los_Angeles', '2026년 11월 24일 (화)'],
    ['Pacific/Kiritimati', '2026년 11월 25일 (수)'],
  ])('the same instant in %s → %s', (zone, expected) => {
    expect(koreanDate(new Date('2026-11-24T16:30:00Z'), zone)).toBe(expected)
  })

  test('does not depend on the process time zone', () => {
    const before = process.env.TZ
    try {
      process.env.TZ = 'America/New_York'
      expect(koreanDate(new Date('2026-11-24T16:30:00Z'))).toBe('2026년 11월 25일 (수)')
    } finally {
      if (before === undefined) delete process.env.TZ
      else process.env.TZ = before
    }
  })

  test('an unknown time zone throws rather than guessing', () => {
    expect(() => koreanDate(new Date('2026-11-24T16:30:00Z'), 'Mars/Olympus')).toThrow()
  })
})
