import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

export interface FoundRegex {
  file: string
  line: number
  source: string
  flags: string
}

/** After these, a `/` opens a regular expression rather than dividing. */
const BEFORE_REGEX = new Set([...'(,=:[!&|?{};+-*%<>~^'])
const KEYWORDS_BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'case',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'else',
  'do',
  'yield',
  'await',
])

/**
 * Every regular expression literal in a TypeScript source, and the number of `new RegExp(` calls. A small
 * scanner: it skips comments, strings and template text (but reads the code inside `${…}`), and decides
 * whether a `/` is a regex or a division from the token before it, as a JavaScript lexer does.
 */
export function scanSource(text: string, file = ''): { literals: FoundRegex[]; constructed: number } {
  const literals: FoundRegex[] = []
  let constructed = 0
  let i = 0
  let prev = '' // the last significant character or word
  // Brace depth of each open `${` in template literals, to know when code goes back to template text.
  const templates: number[] = []
  let depth = 0
  const lineAt = (at: number) => text.slice(0, at).split('\n').length

  const skipTemplateText = () => {
    // At the character after "`" or after the "}" that closes a `${`; stops after "`" or after "${".
    while (i < text.length) {
      const c = text[i]!
      if (c === '\\') {
        i += 2
        continue
      }
      if (c === '`') {
        i++
        return
      }
      if (c === '$' && text[i + 1] === '{') {
        i += 2
        templates.push(depth)
        depth++
        return
      }
      i++
    }
  }

  while (i < text.length) {
    const c = text[i]!
    const next = text[i + 1]
    if (c === '/' && next === '/') {
      i = text.indexOf('\n', i)
      if (i < 0) break
      continue
    }
    if (c === '/' && next === '*') {
      i = text.indexOf('*/', i + 2) + 2
      if (i < 2) break
      continue
    }
    if (c === '"' || c === "'") {
      i++
      while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1
      i++
      prev = 'x'
      continue
    }
    if (c === '`') {
      i++
      skipTemplateText()
      prev = 'x'
      continue
    }
    if (c === '{') depth++
    if (c === '}') {
      depth--
      if (templates.length > 0 && templates.at(-1) === depth) {
        templates.pop()
        i++
        skipTemplateText()
        prev = 'x'
        continue
      }
    }
    if (c === '/') {
      if (prev === '' || BEFORE_REGEX.has(prev) || KEYWORDS_BEFORE_REGEX.has(prev)) {
        const start = i
        i++
        let inClass = false
        while (i < text.length) {
          const r = text[i]!
          if (r === '\\') i++
          else if (r === '[') inClass = true
          else if (r === ']') inClass = false
          else if (r === '/' && !inClass) break
          i++
        }
        const source = text.slice(start + 1, i)
        i++
        const flags = /^[a-z]*/.exec(text.slice(i, i + 8))![0]
        i += flags.length
        literals.push({ file, line: lineAt(start), source, flags })
        prev = 'x'
        continue
      }
      prev = '/'
      i++
      continue
    }
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (/[\w$]/.test(c)) {
      const word = /^[\w$]+/.exec(text.slice(i, i + 64))![0]
      if (word === 'RegExp' && prev === 'new') constructed++
      prev = word
      i += word.length
      continue
    }
    prev = c
    i++
  }
  return { literals, constructed }
}

/** The .ts files under the given folders of the repository, skipping node_modules. */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts')) out.push(path)
    }
  }
  for (const folder of folders) walk(join(root, folder))
  return out.map((p) => relative(root, p)).sort()
}

export const readSource = (root: string, file: string) => readFileSync(join(root, file), 'utf8')
