import { afterAll, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * One registry for everything a test sets up and must take down: child processes, in-process bots and fake
 * servers, test databases, private PostgreSQL clusters, temporary directories. The preload (tests/helpers/preload.ts) releases all of them after every test
 * file (`afterAll` runs even when a test failed or timed out) and, synchronously, when the test process exits or
 * is interrupted (Ctrl-C, SIGTERM), so a run that is cut short leaves nothing behind.
 */
export interface Resource {
  kind: Kind
  label: string
  /** Orderly release (may wait, e.g. for a process to exit). */
  release(): Promise<void> | void
  /** Last-resort release from an exit handler: synchronous, never throws. */
  releaseSync(): void
}

/** Released in this order: what uses a database or a directory goes before it. */
const ORDER = ['process', 'bot', 'server', 'db', 'cluster', 'dir'] as const
type Kind = (typeof ORDER)[number]

/** Each resource with its registration number, so a describe block can release what it registered. */
const resources = new Map<Resource, number>()
let registered = 0

/** Registers a resource; the returned function releases it now (and forgets it). */
export function register(resource: Resource): () => Promise<void> {
  resources.set(resource, ++registered)
  return async () => {
    if (!resources.delete(resource)) return
    await resource.release()
  }
}

/** Forgets a resource that was released by other means. */
export function forget(resource: Resource): void {
  resources.delete(resource)
}

/** A temporary directory under the system's tmp, removed after the test file (or at exit). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kbot-${prefix}-`))
  registerDir(dir)
  return dir
}

/** Registers an existing directory for removal. */
export function registerDir(dir: string): () => Promise<void> {
  const remove = () => rmSync(dir, { recursive: true, force: true })
  return register({
    kind: 'dir',
    label: dir,
    release: remove,
    releaseSync: () => {
      try {
        remove()
      } catch {
        // best effort at exit
      }
    },
  })
}

/** Something in this process that needs an orderly (async) stop; nothing to do at exit. */
export function registerStop(
  kind: 'bot' | 'server' | 'db',
  label: string,
  stop: () => unknown,
): () => Promise<void> {
  return register({ kind, label, release: async () => void (await stop()), releaseSync: () => {} })
}

/** A spawned process, killed (SIGKILL) unless it exited already. */
export function registerProcess(
  proc: {
    pid: number
    exitCode: number | null
    kill(signal?: number | NodeJS.Signals): void
    exited: Promise<number>
  },
  label: string,
): () => Promise<void> {
  return register({
    kind: 'process',
    label: `${label} (pid ${proc.pid})`,
    async release() {
      if (proc.exitCode === null) {
        try {
          proc.kill('SIGKILL')
        } catch {
          // already gone
        }
      }
      await proc.exited
    },
    releaseSync() {
      if (proc.exitCode !== null) return
      try {
        process.kill(proc.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    },
  })
}

/** Releases everything registered, kind by kind in ORDER (processes first: they may hold connections). */
export function releaseAll(): Promise<void> {
  return releaseWhere(() => true)
}

async function releaseWhere(pick: (seq: number) => boolean): Promise<void> {
  for (const kind of ORDER) {
    const batch = [...resources].filter(([r, seq]) => r.kind === kind && pick(seq)).map(([r]) => r)
    for (const r of batch) resources.delete(r)
    const results = await Promise.allSettled(batch.map(async (r) => r.release()))
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') {
        // Still try the synchronous path; report, but never let cleanup fail the run.
        batch[i]!.releaseSync()
        console.warn(`cleanup of ${batch[i]!.label} failed: ${(result.reason as Error)?.message}`)
      }
    }
  }
}

/** Synchronous release for exit handlers. */
export function releaseAllSync(): void {
  for (const kind of ORDER) {
    for (const r of [...resources.keys()]) {
      if (r.kind !== kind) continue
      resources.delete(r)
      r.releaseSync()
    }
  }
}

/** What is still registered (for tests of the registry itself and for diagnostics). */
export function pending(): { kind: Resource['kind']; label: string }[] {
  return [...resources.keys()].map((r) => ({ kind: r.kind, label: r.label }))
}

/**
 * For a describe block (or a whole file): releases, after its tests, whatever was registered while they ran —
 * even when a test failed or timed out. Call it before the block's other hooks.
 */
export function useCleanup(): void {
  let mark = 0
  beforeAll(() => {
    mark = registered
  })
  afterAll(() => releaseWhere((seq) => seq > mark))
}

let installed = false

/** Exit and signal handlers: a run cut short (Ctrl-C, SIGTERM, process.exit) still releases everything. */
export function installExitHandlers(): void {
  if (installed) return
  installed = true
  process.on('exit', releaseAllSync)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      releaseAllSync()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
}
