import { expect, test } from 'bun:test'
import { redactUrl } from '../../src/store/db.ts'

test.each([
  ['postgres://kbot:secret@db:5432/kbot', 'postgres://kbot:***@db:5432/kbot'],
  ['postgres://kbot:p@ss@w0rd@db:5432/kbot', 'postgres://kbot:***@db:5432/kbot'],
  ['postgres://kbot@db/kbot', 'postgres://kbot@db/kbot'],
  ['sqlite:./data/kbot.db', 'sqlite:./data/kbot.db'],
])('redactUrl(%s) hides the password', (url, expected) => {
  expect(redactUrl(url)).toBe(expected)
})
