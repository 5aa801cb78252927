import { describe, expect, test } from 'bun:test'
import { shapeAnswer, splitText, stripMarkdown } from '../../src/kakao/shape.ts'

const squash = (s: string) => s.replace(/\s+/g, '')

describe('stripMarkdown', () => {
  test.each([
    ['heading levels, closing hashes', '# 제목\n## 소제목 ##\n###### 여섯\n본문', '제목\n소제목\n여섯\n본문'],
    ['a hashtag without a space is not a heading', '#해시태그 그대로', '#해시태그 그대로'],
    ['bold', '**굵게** 그리고 __굵게__', '굵게 그리고 굵게'],
    ['italic', '*기울임* 그리고 _기울임_', '기울임 그리고 기울임'],
    ['bold italic', '***강조***', '강조'],
    ['strikethrough', '~~취소~~ 선', '취소 선'],
    ['bold across a line break', '**두\n줄**', '두\n줄'],
    [
      'inline code keeps its content',
      '`npm install` 후 `__init__` 과 `**kwargs`',
      'npm install 후 __init__ 과 **kwargs',
    ],
    [
      'fenced code keeps its content verbatim',
      '예:\n```python\n# 설치\ndef __init__(self, *args, **kwargs):\n    - x\n```\n끝',
      '예:\n# 설치\ndef __init__(self, *args, **kwargs):\n    - x\n끝',
    ],
    ['link', '[카카오](https://kakao.com)', '카카오 (https://kakao.com)'],
    ['link with a title', '[문서](https://a.com/x "제목")', '문서 (https://a.com/x)'],
    ['link whose text is its URL', '[https://a.com](https://a.com)', 'https://a.com'],
    ['autolink', '<https://example.com/a_b>', 'https://example.com/a_b'],
    [
      'image with alt text',
      '![고양이](https://img.example.com/cat_1.png)',
      '고양이 (https://img.example.com/cat_1.png)',
    ],
    ['image without alt text', '![](https://a.com/i.png)', 'https://a.com/i.png'],
    ['bullets', '- 하나\n* 둘\n+ 셋\n  - 안쪽', '• 하나\n• 둘\n• 셋\n  • 안쪽'],
    ['numbered list untouched', '1. 첫째\n2. 둘째', '1. 첫째\n2. 둘째'],
    ['blockquote', '> 인용문\n> 둘째 줄', '인용문\n둘째 줄'],
    ['table', '| 이름 | 값 |\n|:---|---:|\n| a | 1 |\n| b | 2 |', '이름 · 값\na · 1\nb · 2'],
    ['horizontal rules', '위\n\n---\n\n가운데\n\n***\n\n___\n아래', '위\n\n가운데\n\n아래'],
    ['<br>', '한 줄<br>두 줄<br/>세 줄', '한 줄\n두 줄\n세 줄'],
    ['CRLF and trailing spaces', '가  \r\n나\r\n', '가\n나'],
    [
      'snake_case and arithmetic untouched',
      'snake_case_word 와 2*3*4 와 a * b',
      'snake_case_word 와 2*3*4 와 a * b',
    ],
    ['plain Korean untouched', '안녕하세요. 반가워요!', '안녕하세요. 반가워요!'],
  ])('%s', (_, input, expected) => {
    expect(stripMarkdown(input)).toBe(expected)
  })

  describe('URLs survive intact', () => {
    test.each([
      [
        'underscores',
        '주소: https://example.com/a_b_c/d_e_ 입니다',
        '주소: https://example.com/a_b_c/d_e_ 입니다',
      ],
      [
        'query string',
        '링크 https://example.com/search?a=1&b=2 참고',
        '링크 https://example.com/search?a=1&b=2 참고',
      ],
      ['asterisks', '별 https://example.com/*star*/x 와 **굵게**', '별 https://example.com/*star*/x 와 굵게'],
      ['underscores beside italic', '_기울임_ https://a.com/_x_/y', '기울임 https://a.com/_x_/y'],
      ['tildes beside strikethrough', '~~취소~~ https://a.com/~~user~~/', '취소 https://a.com/~~user~~/'],
      ['inside a link', '[이것](https://a.com/p_q?x=1&y=*2*)', '이것 (https://a.com/p_q?x=1&y=*2*)'],
      ['in a table', '| 링크 | https://a.com/t_1 |', '링크 · https://a.com/t_1'],
      ['in a heading', '## https://a.com/h__1__', 'https://a.com/h__1__'],
      ['in parentheses', '(https://a.com/x_1) 참고', '(https://a.com/x_1) 참고'],
    ])('%s', (_, input, expected) => {
      expect(stripMarkdown(input)).toBe(expected)
    })

    test('a trailing period or comma is not swallowed into the URL', () => {
      expect(stripMarkdown('자세한 내용은 https://example.com/a_b?a=1&b=2. 다음, https://b.com/x, 끝')).toBe(
        '자세한 내용은 https://example.com/a_b?a=1&b=2. 다음, https://b.com/x, 끝',
      )
      const out = stripMarkdown('**참고**: https://example.com/doc_1.')
      expect(out).toBe('참고: https://example.com/doc_1.')
    })
  })
})

describe('splitText', () => {
  test('splits Korean sentences at ". ", "요. ", "다. ", "? ", "! " and newlines', () => {
    const text =
      '오늘은 날씨가 좋아요. 내일은 비가 온다고 합니다. 우산을 챙기세요? 네, 챙길게요!\n다음 줄이에요.'
    expect(splitText(text, 15)).toEqual([
      '오늘은 날씨가 좋아요.',
      '내일은 비가 온다고 합니다.',
      '우산을 챙기세요?',
      '네, 챙길게요!',
      '다음 줄이에요.',
    ])
  })

  test('packs as many sentences as fit', () => {
    expect(splitText('하나예요. 둘이에요. 셋이다. 넷?', 12)).toEqual(['하나예요. 둘이에요.', '셋이다. 넷?'])
    expect(splitText('하나예요. 둘이에요.', 100)).toEqual(['하나예요. 둘이에요.'])
  })

  test('never splits inside a number or a URL', () => {
    const second = '가격은 3.5달러, 주소는 https://a.com/v1.2/x_y?q=1.5&r=2 입니다.'
    // With a boundary inside "3.5" or the URL, "네. 가격은 3." (and so on) would fit into the first chunk.
    expect(splitText(`네. ${second}`, second.length)).toEqual(['네.', second])
  })

  test('a period after a URL ends the sentence without splitting the URL', () => {
    const first = '링크는 https://example.com/a_b?a=1&b=2.'
    expect(splitText(`${first} 다음 문장입니다.`, first.length)).toEqual([first, '다음 문장입니다.'])
  })

  test('a 2,500-character sentence without spaces is hard-cut at the limit', () => {
    for (const text of ['a'.repeat(2500), '가'.repeat(2500)]) {
      const chunks = splitText(text, 1000)
      expect(chunks.map((c) => c.length)).toEqual([1000, 1000, 500])
      expect(chunks.join('')).toBe(text)
    }
  })

  test('an over-long sentence is cut at a space, keeping a URL whole', () => {
    const url = `https://example.com/${'x_'.repeat(60)}end`
    const text = `${'단어 '.repeat(300)}${url} 끝.`
    const chunks = splitText(text, 1000)
    expect(chunks.some((c) => c.split(/\s+/).includes(url))).toBe(true)
    expect(squash(chunks.join(''))).toBe(squash(text))
  })

  test.each([7, 20, 50, 101, 333, 1000])(
    'every chunk is at most %i characters, and nothing is lost',
    (max) => {
      const text = [
        '안녕하세요! 오늘 질문에 답해 드릴게요.',
        `첫째, 가격은 3.5달러예요. 둘째, 링크는 https://example.com/a_b?x=1&y=2 입니다.`,
        '셋째 줄에는 아주 긴 문장이 있어요 '.repeat(40),
        'x'.repeat(1500),
        '마지막 문장입니다.',
      ].join('\n')
      const chunks = splitText(text, max)
      expect(chunks.length).toBeGreaterThan(1)
      for (const chunk of chunks) {
        expect(chunk.length).toBeLessThanOrEqual(max)
        expect(chunk.length).toBeGreaterThan(0)
        expect(chunk).toBe(chunk.trim())
      }
      expect(squash(chunks.join(''))).toBe(squash(text))
    },
  )

  test('empty and blank input give no chunks', () => {
    expect(splitText('', 1000)).toEqual([])
    expect(splitText(' \n\t ', 1000)).toEqual([])
  })
})

describe('shapeAnswer', () => {
  test('a short answer is one plain bubble', () => {
    expect(shapeAnswer('**안녕**하세요, [카카오](https://kakao.com)!')).toEqual({
      bubbles: ['안녕하세요, 카카오 (https://kakao.com)!'],
      remaining: null,
    })
  })

  test.each([[''], ['   \n\t'], ['---']])('%j gives no bubbles', (input) => {
    expect(shapeAnswer(input)).toEqual({ bubbles: [], remaining: null })
  })

  test('exactly three full bubbles leave nothing remaining', () => {
    const sentence = `${'가'.repeat(998)}.`
    const { bubbles, remaining } = shapeAnswer([sentence, sentence, sentence].join(' '))
    expect(bubbles).toEqual([sentence, sentence, sentence])
    expect(remaining).toBeNull()
  })

  test('a long answer gives at most 3 bubbles of at most 1000 characters; "remaining" continues it losslessly', () => {
    const paragraph = (i: number) =>
      `## ${i}번째 주제\n\n**요점 ${i}**: 가격은 ${i}.5달러예요. 자세한 내용은 [문서](https://example.com/doc_${i}?a=1&b=2)를 보세요. ` +
      `${'이 문장은 길이를 채우기 위한 설명입니다. '.repeat(14)}\n- 항목 하나\n- 항목 둘, https://a.com/x_${i}.\n`
    const input = Array.from({ length: 12 }, (_, i) => paragraph(i + 1)).join('\n')
    const stripped = stripMarkdown(input)
    expect(stripped.length).toBeGreaterThan(5000)

    const all: string[] = []
    let next: string | null = input
    let rounds = 0
    while (next !== null) {
      const shaped = shapeAnswer(next)
      expect(shaped.bubbles.length).toBeGreaterThanOrEqual(1)
      expect(shaped.bubbles.length).toBeLessThanOrEqual(3)
      for (const bubble of shaped.bubbles) expect(bubble.length).toBeLessThanOrEqual(1000)
      if (shaped.remaining !== null) expect(shaped.bubbles).toHaveLength(3)
      all.push(...shaped.bubbles)
      next = shaped.remaining
      rounds++
      expect(rounds).toBeLessThan(20)
    }
    expect(rounds).toBeGreaterThanOrEqual(2)
    expect(squash(all.join(''))).toBe(squash(stripped))
    for (let i = 1; i <= 12; i++) expect(all.join('\n')).toContain(`https://example.com/doc_${i}?a=1&b=2`)
  })

  test('maxBubbles and maxChars are honoured', () => {
    const { bubbles, remaining } = shapeAnswer('하나. 둘. 셋. 넷. 다섯.', { maxBubbles: 2, maxChars: 6 })
    expect(bubbles).toEqual(['하나. 둘.', '셋. 넷.'])
    expect(remaining).toBe('다섯.')
  })
})

describe('"자세히" pages', () => {
  test('code that did not fit keeps its markdown-looking lines on later pages', () => {
    const filler = Array.from(
      { length: 40 },
      (_, i) => `설명 문장 ${i}번입니다. 조금 더 길게 써 둡니다.`,
    ).join(' ')
    const answer = `${filler.repeat(3)}\n\n\`\`\`python\n# 설정을 읽습니다\ndef __init__(self):\n    - 이 줄은 목록이 아닙니다\n\`\`\``
    const first = shapeAnswer(answer)
    expect(first.remaining).not.toBeNull()
    let pages = ''
    let rest = first.remaining
    while (rest) {
      const next = shapeAnswer(rest, { plain: true })
      pages += next.bubbles.join('\n')
      rest = next.remaining
    }
    const all = first.bubbles.join('\n') + pages
    expect(all).toContain('# 설정을 읽습니다')
    expect(all).toContain('def __init__(self):')
    expect(all).toContain('- 이 줄은 목록이 아닙니다')
  })
})
