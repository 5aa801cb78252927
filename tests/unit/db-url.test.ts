import { expect, test } from 'bun:test'
import { redactUrl } from '../../src/store/db.ts'

test.each([
  ['postgres://kbot:secret@db:5432/kbot', 'postgres://kbot:***@db:5432/kbot'],
  ['postgres://kbot:p@ss@w0rd@db:5432/kbot', 'postgres://kbot:***@db:5432/kbot'],
  ['postgres://kbot@db/kbot', 'postgres://kbot@db/kbot'],
  ['sqlite:./data/kbot.db', 'sqlite:./data/kbot.db'],
  ['postgres://:secret@db/kbot', 'postgres://:***@db/kbot'],
  [
    'postgresql://kbot@db/kbot?password=secret&sslmode=require',
    'postgresql://kbot@db/kbot?password=***&sslmode=require',
  ],
  ['postgres://db/kbot?sslmode=require&PASSWORD=secret', 'postgres://db/kbot?sslmode=require&PASSWORD=***'],
  ['postgres://kbot@db:5432/kbot', 'postgres://kbot@db:5432/kbot'],
])('redactUrl(%s) hides the password', (url, expected) => {
  expect(redactUrl(url)).toBe(expected)
})
