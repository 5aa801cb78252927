/**
 * Markdown removal for Kakao's simpleText (markdown is not rendered there), keeping every URL intact.
 *
 * The text comes from the model and may be long and odd (64 k of spaces, dots or `**`), and this runs on the
 * main thread for every callback, inline answer and "답변 확인". So every step here is linear in the input:
 * anchored per-line patterns without overlapping quantifiers, and small scanners where a pattern would have to
 * search ahead from each position (links, emphasis, fenced code, trailing spaces).
 */

const URL_RE = /https?:\/\/[^\s<>()[\]{}"'`]+[^\s<>()[\]{}"'`.,!?;:。、]/g
const SPACE = /\s/
const isSpace = (c: string | undefined) => c !== undefined && SPACE.test(c)
const isBlank = (c: string | undefined) => c === ' ' || c === '\t'

/** Applies `fn` to each line (split at "\n") and joins them again. */
const eachLine = (text: string, fn: (line: string) => string) => text.split('\n').map(fn).join('\n')

/** A line without its trailing spaces and tabs. */
function trimBlankEnd(line: string): string {
  let end = line.length
  while (end > 0 && isBlank(line[end - 1])) end--
  return line.slice(0, end)
}

const isFenceClose = (line: string) => line.startsWith('```') && trimBlankEnd(line).length === 3

/** Fenced code blocks become `keep(code)`; an opening fence without a closing one is left as text. */
function fencedCode(text: string, keep: (code: string) => string): string {
  const lines = text.split('\n')
  // The next closing fence at or after each line, computed once from the end (no search per opening fence).
  const nextClose = new Array<number>(lines.length + 1).fill(-1)
  for (let i = lines.length - 1; i >= 0; i--) nextClose[i] = isFenceClose(lines[i]!) ? i : nextClose[i + 1]!
  const out: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const close = lines[i]!.startsWith('```') ? nextClose[i + 1]! : -1
    if (close < 0) {
      out.push(lines[i]!)
      continue
    }
    out.push(keep(lines.slice(i + 1, close).join('\n')))
    i = close
  }
  return out.join('\n')
}

/**
 * `[label](url "title")` (or `![alt](url)` when `image`) replaced by `render(label, url)`. The label runs to the
 * first "]"; the URL runs to the first ")", ">" or space. Both ends are remembered, so a long run of "[" or of
 * "[a](" costs one pass, not one pass per "[".
 */
function links(text: string, image: boolean, render: (label: string, url: string) => string): string {
  let out = ''
  let copied = 0
  let close = -1 // the first "]" at or after the current position, once looked up
  const target = linkTargets(text)
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '[' || (image && text[i - 1] !== '!')) continue
    if (close < i) close = text.indexOf(']', i)
    if (close < 0) break
    const label = text.slice(i + 1, close)
    if ((!image && label === '') || text[close + 1] !== '(') continue
    const end = target(close + 2)
    if (!end) continue
    const start = image ? i - 1 : i
    out += text.slice(copied, start) + render(label, end.url)
    copied = end.at
    i = end.at - 1
  }
  return out + text.slice(copied)
}

const isUrlChar = (c: string | undefined) => c !== undefined && c !== ')' && c !== '>' && !isSpace(c)

/**
 * Reads `\s*<?url>?(\s+"title")?\s*)` from a position: the URL and the index after ")", or null. Where the URL
 * ends and what follows it are remembered per end, so starts inside one long run share the work.
 */
function linkTargets(text: string) {
  let runStart = -1
  let runEnd = -1
  const tails = new Map<number, number | null>()
  const tail = (from: number): number | null => {
    let i = from
    if (text[i] === '>') i++
    const spaced = i
    while (isSpace(text[i])) i++
    if (text[i] === '"' && i > spaced) {
      const quote = text.indexOf('"', i + 1)
      if (quote < 0) return null
      i = quote + 1
      while (isSpace(text[i])) i++
    }
    return text[i] === ')' ? i + 1 : null
  }
  return (at: number): { url: string; at: number } | null => {
    let start = at
    while (isSpace(text[start])) start++
    if (text[start] === '<' && isUrlChar(text[start + 1])) start++
    if (!(start >= runStart && start < runEnd)) {
      runStart = start
      runEnd = start
      while (isUrlChar(text[runEnd])) runEnd++
    }
    if (runEnd === start) return null
    if (!tails.has(runEnd)) tails.set(runEnd, tail(runEnd))
    const after = tails.get(runEnd) ?? null
    return after === null ? null : { url: text.slice(start, runEnd), at: after }
  }
}

/**
 * `**x**`, `__x__`, `~~x~~` → x, where the markers hug the words (non-space after the opener and before the
 * closer). The next usable closer after each position is computed once, from the end, so an unclosed marker
 * repeated thousands of times is still one pass.
 */
function emphasis(text: string, marker: string): string {
  const n = text.length
  const m = marker.length
  const nextCloser = new Int32Array(n + 2).fill(-1)
  for (let q = n - m; q >= 0; q--) {
    const usable = text.startsWith(marker, q) && q > 0 && !isSpace(text[q - 1])
    nextCloser[q] = usable ? q : nextCloser[q + 1]!
  }
  let out = ''
  let copied = 0
  for (let p = 0; p + m < n; p++) {
    if (!text.startsWith(marker, p) || isSpace(text[p + m])) continue
    const q = p + m + 1 <= n - m ? nextCloser[p + m + 1]! : -1
    if (q < 0) break // no closer after p, so none after any later opener either
    out += text.slice(copied, p) + text.slice(p + m, q)
    copied = q + m
    p = q + m - 1
  }
  return out + text.slice(copied)
}

const WORD = /\w/
const isWord = (c: string | undefined) => c !== undefined && WORD.test(c)

/**
 * `*x*` and `_x_` → x, as the pattern `(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)` would (with "_" for "*"), by a
 * scan: the opener follows a non-word character (or starts the text), the closer follows a non-space and
 * precedes a non-word character, and the text between holds no marker and no newline. Each stretch between two
 * markers is read once, by the opener on its left.
 */
function singleEmphasis(text: string, marker: '*' | '_'): string {
  const n = text.length
  let out = ''
  let copied = 0
  const closesAt = (q: number) => text[q] === marker && !isSpace(text[q - 1]) && !isWord(text[q + 1])
  for (let p = 0; p < n; p++) {
    if (text[p] !== marker || p + 1 >= n || isSpace(text[p + 1])) continue
    if (p > 0 && (p - 1 < copied || isWord(text[p - 1]) || text[p - 1] === marker)) continue
    let first = p + 1
    while (first < n && text[first] !== marker && text[first] !== '\n') first++
    // The closer is the first marker after p, or (when that marker is itself the last character of the text
    // between, "*a**") the one right after it.
    const close =
      first > p + 1 && closesAt(first)
        ? first
        : text[first] === marker && closesAt(first + 1)
          ? first + 1
          : -1
    if (close < 0) continue
    out += text.slice(copied, p) + text.slice(p + 1, close)
    copied = close + 1
    p = close
  }
  return out + text.slice(copied)
}

const HEADING = /^[ \t]*#{1,6}[ \t]+/
const RULE = /^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$/
const SEPARATOR_CELL = /^:?-{2,}:?$/
const TABLE_ROW = /^[ \t]*\|(.+)\|[ \t]*$/

/** "## Title ##" → "Title": the closing hashes and the spaces around them go too. */
function heading(line: string): string {
  const m = HEADING.exec(line)
  if (!m) return line
  let end = line.length
  while (end > m[0].length && isBlank(line[end - 1])) end--
  while (end > m[0].length && line[end - 1] === '#') end--
  while (end > m[0].length && isBlank(line[end - 1])) end--
  return line.slice(m[0].length, end)
}

/** A table's separator row ("|---|:--:|"): at least two cells of dashes with optional colons. */
function isTableSeparator(line: string): boolean {
  let cells = line.trim()
  if (!cells.includes('-')) return false
  if (cells.startsWith('|')) cells = cells.slice(1)
  if (cells.endsWith('|')) cells = cells.slice(0, -1)
  const parts = cells.split('|')
  return parts.length >= 2 && parts.every((c) => SEPARATOR_CELL.test(c.trim()))
}

/** Removes markdown syntax while keeping every URL intact. */
export function stripMarkdown(input: string): string {
  const urls: string[] = []
  const keep = (url: string) => `\u0000${urls.push(url) - 1}\u0000`
  // NUL marks kept URLs and code below; a model never means one, so any in the answer is dropped first.
  let text = input.replaceAll('\u0000', '').replace(/\r\n?/g, '\n')

  // Fenced and inline code: kept verbatim, set aside like URLs (`# x`, `- x`, `__init__` are code, not markdown).
  text = fencedCode(text, keep)
  text = text.replace(/`([^`\n]+)`/g, (_, code: string) => keep(code))
  // Images and links: "text (url)"; a link whose text is its URL becomes the URL.
  text = links(text, true, (alt, url) => (alt ? `${alt} (${keep(url)})` : keep(url)))
  text = links(text, false, (label, url) => (label === url ? keep(url) : `${label} (${keep(url)})`))
  text = text.replace(/<(https?:\/\/[^<>\s]+)>/g, (_, url: string) => keep(url))
  text = text.replace(URL_RE, (url) => keep(url))

  text = text.replace(/<br\s*\/?>/gi, '\n')
  text = eachLine(text, (line) => {
    const plain = heading(line)
    return RULE.test(plain) ? '' : plain.replace(/^[ \t]*>[ \t]?/, '')
  })
  // Tables: drop the separator row, join cells with " · ".
  text = text
    .split('\n')
    .filter((line) => !isTableSeparator(line))
    .join('\n')
  text = eachLine(text, (line) => {
    const row = TABLE_ROW.exec(line)
    if (!row) return line
    return row[1]!
      .split('|')
      .map((c) => c.trim())
      .filter((c) => c.length > 0)
      .join(' · ')
  })
  text = eachLine(text, (line) => line.replace(/^([ \t]*)[-*+][ \t]+(\S)/, '$1• $2'))
  // Emphasis: only where the markers hug words, so snake_case and arithmetic survive.
  text = emphasis(emphasis(emphasis(text, '**'), '__'), '~~')
  text = singleEmphasis(singleEmphasis(text, '*'), '_')

  text = eachLine(text, trimBlankEnd)
    .replace(/\n{3,}/g, '\n\n')
    .trim()
  // biome-ignore lint/suspicious/noControlCharactersInRegex: \u0000 marks kept URLs and code (NUL was removed from the input)
  return text.replace(/\u0000(\d+)\u0000/g, (_, i: string) => urls[Number(i)]!)
}
