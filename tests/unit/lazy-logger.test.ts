import { describe, expect, spyOn, test } from 'bun:test'
import { createLogger, lazyChild } from '../../src/logger.ts'

const memory = () => {
  const lines: Record<string, unknown>[] = []
  return { lines, write: (line: string) => void lines.push(JSON.parse(line)) }
}

describe('lazyChild', () => {
  test('makes no pino child until a line is written at an enabled level', () => {
    const out = memory()
    const log = createLogger({ level: 'info', destination: out })
    const child = spyOn(log, 'child')
    const lazy = lazyChild(log, { reqId: 'r1' })
    const inner = lazyChild(lazy, { userId: 'u1' })
    lazy.debug('not written')
    inner.debug({ x: 1 }, 'not written either')
    expect(lazy.isLevelEnabled('debug')).toBe(false)
    expect(inner.isLevelEnabled('info')).toBe(true)
    expect(lazy.level).toBe('info')
    expect(child).not.toHaveBeenCalled()
    expect(out.lines).toEqual([])

    inner.info({ taskId: 't1' }, 'queued')
    lazy.warn('slow')
    inner.info('again')
    // Once per level (pino's children inherit the spied method): the reqId child, then the userId child.
    expect(child).toHaveBeenCalledTimes(2)
    expect(out.lines.map((l) => [l.msg, l.reqId, l.userId, l.taskId])).toEqual([
      ['queued', 'r1', 'u1', 't1'],
      ['slow', 'r1', undefined, undefined],
      ['again', 'r1', 'u1', undefined],
    ])
    child.mockRestore()
  })

  test('a child of a lazy logger keeps every binding and the redaction', () => {
    const out = memory()
    const log = createLogger({ level: 'debug', destination: out })
    const lazy = lazyChild(lazyChild(log, { reqId: 'r2' }), { userId: 'u2' }).child({ plugin: 'p' })
    lazy.debug({ headers: { authorization: 'Bearer secret-x' } }, 'request')
    expect(out.lines).toHaveLength(1)
    expect(out.lines[0]).toMatchObject({ reqId: 'r2', userId: 'u2', plugin: 'p', msg: 'request' })
    expect(JSON.stringify(out.lines[0])).not.toContain('secret-x')
  })
})
