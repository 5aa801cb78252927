import type { RawConfig } from '../config.ts'
import { fill } from '../texts.ts'
import type { CrisisKind } from './lexicon.ts'

type SafetyConfig = RawConfig['safety']

/** Without a name, the address ("{{name}} 님, ", "{{name|아/야}}, ") is left out rather than left empty. */
const ADDRESS = /\{\{\s*name\s*(?:\|[^{}]*)?\}\}(?:\s*님)?[,!]?\s*/g

/**
 * The immediate reply to a crisis message: the text of the most serious kind found (suicide, then self-harm,
 * then abuse) and the help lines of every kind found, each number once.
 */
export function crisisReply(config: SafetyConfig, kinds: readonly CrisisKind[], name: string | null): string {
  const first = kinds[0]
  if (!first) throw new Error('crisisReply needs at least one kind')
  const seen = new Set<string>()
  const lines = kinds
    .flatMap((k) => config.lines[k])
    .filter((l) => !seen.has(l.number) && seen.add(l.number))
    .map((l) => `· ${l.name} ${l.number}${l.hours ? ` (${l.hours})` : ''}`)
    .join('\n')
  const template = name ? config.replies[first] : config.replies[first].replace(ADDRESS, '')
  return fill(template, { name: name ?? '', lines, emergency: config.emergency })
}
