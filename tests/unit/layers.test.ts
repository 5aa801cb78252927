import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/**
 * Layers point down: a file may import its own layer and the ones below, never one above. The same table is
 * README's "Source map". Longest prefix wins, so single files can sit apart from their folder (the Kakao wire
 * format is low; the turn runner in the same folder is high).
 */
const LAYERS: [prefix: string, layer: number][] = [
  // 0 base: no kbot imports above it
  ['src/errors.ts', 0],
  ['src/logger.ts', 0],
  ['src/version.ts', 0],
  ['src/texts.ts', 0],
  ['src/names/', 0],
  ['src/korean/', 0],
  ['src/util/', 0],
  ['src/log-redact.ts', 0],
  // Pure text shared upwards: prompt rendering and the seeded summary prompt.
  ['src/prompts/render.ts', 0],
  ['src/memory/summary-prompt.ts', 0],
  // 1 config
  ['src/config.ts', 1],
  ['src/config/', 1],
  ['src/pipeline/builtins.ts', 1],
  // The price table's defaults are config defaults.
  ['src/ai/cost.ts', 1],
  // 2 Kakao wire format: must not know the store, the queue or delivery
  ['src/kakao/payload.ts', 2],
  ['src/kakao/response.ts', 2],
  ['src/kakao/shape.ts', 2],
  ['src/kakao/markdown.ts', 2],
  // 3 store: SQL lives here and nowhere else
  ['src/store/', 3],
  // 4 model client, log sink, metrics
  ['src/ai/', 4],
  ['src/log-sink.ts', 4],
  ['src/metrics/', 4],
  // 5 the queue runner
  ['src/queue/', 5],
  // 6 what runs on the queue: delivery, task handlers, periodic jobs, safety, memory
  ['src/delivery/', 6],
  ['src/tasks/', 6],
  ['src/jobs/', 6],
  ['src/safety/', 6],
  ['src/memory/', 6],
  // 7 the turn: pipeline, prompts, the Kakao turn runner
  ['src/pipeline/', 7],
  ['src/prompts/', 7],
  ['src/kakao/', 7],
  // 8 services (admin and CLI operations)
  ['src/services/', 8],
  // 9 plugins
  ['plugins/', 9],
  // 10 HTTP
  ['src/http/', 10],
  // 11 assembly
  ['src/kbot.ts', 11],
  ['src/server.ts', 11],
  // kbot chat: a Kakao stand-in that may start a server in-process
  ['src/chat/', 11],
  // 12 command line
  ['cli/', 12],
]

const ROOT = resolve(import.meta.dir, '..', '..')

function layerOf(path: string): number | null {
  let best: [string, number] | null = null
  for (const [prefix, layer] of LAYERS) {
    if (path === prefix || (prefix.endsWith('/') && path.startsWith(prefix))) {
      if (!best || prefix.length > best[0].length) best = [prefix, layer]
    }
  }
  return best ? best[1] : null
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
}

/** Relative import specifiers: static imports, re-exports and dynamic `import('…')`. */
export function importsOf(source: string): string[] {
  const found: string[] = []
  const patterns = [
    /\bfrom\s+['"](\.[^'"]+)['"]/g,
    /\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g,
    /^import\s+['"](\.[^'"]+)['"]/gm,
  ]
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!)
  return found
}

export function violations(files: { path: string; source: string }[]): string[] {
  const out: string[] = []
  for (const { path, source } of files) {
    const own = layerOf(path)
    if (own === null) {
      out.push(`${path}: not in any layer (add its folder to LAYERS and to README's source map)`)
      continue
    }
    for (const spec of importsOf(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(path), spec))
      const layer = layerOf(target)
      if (layer !== null && layer > own) out.push(`${path} (layer ${own}) imports ${target} (layer ${layer})`)
    }
  }
  return out
}

describe('layers', () => {
  const files = ['src', 'plugins', 'cli'].flatMap(tsFiles).map((path) => ({
    path,
    source: readFileSync(join(ROOT, path), 'utf8'),
  }))

  test('every source file is in a layer and imports only its layer or lower ones', () => {
    expect(files.length).toBeGreaterThan(50)
    expect(violations(files)).toEqual([])
  })

  test('an upward import is reported with both files and layers', () => {
    const bad = [
      { path: 'src/kakao/response.ts', source: "import { createQueueRunner } from '../queue/runner.ts'" },
      {
        path: 'src/store/users.ts',
        source: "export { x } from '../http/app.ts'\nconst m = import('../kbot.ts')",
      },
      { path: 'src/ai/client.ts', source: "import type { Task } from '../store/tasks.ts'" },
      { path: 'src/nowhere/x.ts', source: '' },
    ]
    expect(violations(bad)).toEqual([
      'src/kakao/response.ts (layer 2) imports src/queue/runner.ts (layer 5)',
      'src/store/users.ts (layer 3) imports src/http/app.ts (layer 10)',
      'src/store/users.ts (layer 3) imports src/kbot.ts (layer 11)',
      "src/nowhere/x.ts: not in any layer (add its folder to LAYERS and to README's source map)",
    ])
  })
})
